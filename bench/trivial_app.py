"""The trivial Streamlit app that `workshop_p95_ratio` measures CNN Lab against, under the same harness:
a Stride slider like the Convolution Playground's, and a line and a small picture that follow it."""
import numpy as np
import streamlit as st

stride = st.slider("Stride", 1, 4, 1)
st.markdown(f"Output for stride {stride}")
st.image(np.full((16, 16), 60 * stride, dtype=np.uint8), width=64)
