"""The one exception type the app shows to users."""


class CNNLabError(ValueError):
    """A problem with user input or the environment, with a message fit for the screen.

    Pages catch it and show ``str(err)`` in ``st.error``; anything else is a bug.
    """
