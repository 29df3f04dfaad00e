"""Shared Streamlit widgets: validated URL parameters, the image picker, the model picker, quizzes."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import cache
from core import quiz as quizlib
from core.errors import CNNLabError
from core.images import ACCEPTED_EXTENSIONS, ACCEPTED_TEXT, SAMPLE_PHOTOS, DecodedImage, decode_image
from core.models import REGISTRY, LoadedModel

T = TypeVar("T")
PHOTO_SOURCES = ("Sample photo", "Synthetic shapes", "Upload", "Camera")


def route_through_home() -> None:
    """Call first in every pages/ script.

    Streamlit treats a pages/ folder as an old-style multipage app until st.navigation has run
    once in the process. So on a fresh server, a direct link to a page runs that script alone,
    without Home.py's router and page config. Switching the old mode off and rerunning sends the
    request through Home.py's st.navigation, which then opens the same page. Once per session is
    enough (the switch is process-wide); Streamlit's AppTest turns the old mode back on before
    every run, and a second rerun there would swallow the button click that started the run.
    """
    if PagesManager.uses_pages_directory and not st.session_state.get("_routed_through_home"):
        st.session_state["_routed_through_home"] = True
        PagesManager.uses_pages_directory = False
        st.rerun()


def session_alive() -> Callable[[], bool]:
    """A check a background thread can call: is this browser session still connected?
    (Always true where no server runtime exists, as under AppTest.)"""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return lambda: True
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def query_choice(param: str, options: Sequence[str], default: str) -> str:
    """A URL query parameter that must be one of options; a bad value warns and falls back."""
    value = st.query_params.get(param)
    if value is None:
        return default
    if value not in options:
        shown = value if len(value) <= 40 else value[:40] + "..."
        st.warning(f"The link's `{param}={shown}` is not recognised, so the default is shown. "
                   f"Accepted values: {', '.join(options)}.")
        return default
    return value


def query_number(param: str, lo: float, hi: float, default: float) -> float:
    """A numeric URL query parameter in [lo, hi]; a bad value warns and falls back.

    A whole-number default means only whole numbers are accepted (and an int is returned).
    """
    whole = isinstance(default, int)
    value = st.query_params.get(param)
    if value is None:
        return default
    try:
        number = int(value) if whole else float(value)
        if not lo <= number <= hi:  # also false for NaN
            raise ValueError
    except ValueError:
        kind = "a whole number" if whole else "a number"
        st.warning(f"The link's `{param}` must be {kind} from {lo:g} to {hi:g}; the default {default:g} is used.")
        return default
    return number


def query_multi(param: str, options: Sequence[str], default: Sequence[str]) -> list[str]:
    """A comma-separated URL parameter of choices; unknown entries warn and are dropped."""
    value = st.query_params.get(param)
    if value is None:
        return list(default)
    chosen = [v for v in value.split(",") if v]
    unknown = [v for v in chosen if v not in options]
    if unknown:
        st.warning(f"The link's `{param}` has unknown entries ({', '.join(u[:40] for u in unknown[:5])}); "
                   f"they were left out. Accepted values: {', '.join(options)}.")
    kept = [v for v in dict.fromkeys(chosen) if v in options]
    return kept or list(default)


def fit_width(img: np.ndarray, tallest: int = 720) -> str | int:
    """``width`` for st.image: the column's ("stretch"), except for a picture more than twice as tall as
    wide, which gets the width that makes it at most ``tallest`` px high: stretched to a column, a 1x1024
    strip (a 3x4000 upload, downscaled) would make the page hundreds of thousands of pixels tall."""
    h, w = img.shape[:2]
    return "stretch" if h <= 2 * w else max(1, round(min(h, tallest) * w / h))


CAPTION_MIN_PX = 200  # narrower than this, a caption under a picture wraps a few letters per line


def picture(where, img: np.ndarray, caption: str = "") -> None:
    """A photo-sized picture at ``fit_width``. A strip too narrow to carry its caption (a 3x4000 upload is
    drawn 1 px wide) gets the caption as text of its own below it, at the column's width: under the
    picture it wrapped one letter per line, a ribbon thousands of pixels tall."""
    width = fit_width(img)
    if width == "stretch" or width >= CAPTION_MIN_PX or not caption:
        where.image(img, caption=caption or None, width=width)
        return
    where.image(img, width=width)
    where.caption(caption)


def session_memo(name: str, key: Hashable, build: Callable[[], T]) -> T:
    """``build()``'s value, kept in this session while ``key`` stays the same (one value per name).

    For work a live widget's rerun would repeat although its inputs did not change (a slice move does
    not change the volume the 3D CNN reads). Keyed by the inputs' description rather than their
    content, which st.cache_data would have to hash (tens of ms for a scan)."""
    slot = st.session_state.get(f"_memo_{name}")
    if slot is None or slot[0] != key:
        slot = (key, build())
        st.session_state[f"_memo_{name}"] = slot
    return slot[1]


def data_slider(label: str, lo: int, hi: int, value: int, key: str, where=st, **kwargs) -> int:
    """A whole-number slider whose bounds come from the data (a row, a slice, a sample, a stage).
    Streamlit refuses a slider with min == max, so a single choice is shown as a caption instead
    and returned."""
    if hi <= lo:
        where.caption(f"{label}: {lo} (the only one)")
        return lo
    return where.slider(label, lo, hi, min(max(lo, value), hi), key=key, **kwargs)


def image_picker(key: str, default_sample: str = "Cat (chelsea)",
                 default_source: str = PHOTO_SOURCES[0]) -> DecodedImage | None:
    """Sample photo, synthetic scene, upload or camera snapshot -> a decoded RGB image.

    A bad upload shows an error saying what was wrong and what is accepted, and returns None.
    The chosen source and sample are mirrored into the URL.
    """
    source = st.segmented_control(
        "Photo source", PHOTO_SOURCES, key=f"{key}_source",
        default=query_choice("source", PHOTO_SOURCES, default_source),
    ) or default_source
    st.query_params["source"] = source
    if source == "Sample photo":
        names = list(SAMPLE_PHOTOS)
        chosen = query_choice("photo", names, default_sample)
        name = st.selectbox("Sample photo", names, index=names.index(chosen), key=f"{key}_sample")
        st.query_params["photo"] = name
        pixels = cache.sample_photo(name)
        return DecodedImage(pixels, "scikit-image sample", (pixels.shape[1], pixels.shape[0]))
    if source == "Synthetic shapes":
        seed = st.number_input("Scene seed", 0, 10_000, query_number("seed", 0, 10_000, 0), key=f"{key}_seed",
                               help="Each seed draws a different scene holding each of the five shape classes once.")
        st.query_params["seed"] = str(seed)
        scene = cache.synthetic_scene(int(seed))
        return DecodedImage(scene.image, "synthetic", (scene.image.shape[1], scene.image.shape[0]), scene=scene)
    if source == "Upload":
        # No `type=` filter on purpose: Streamlit enforces it by raising an exception before the
        # script runs (a traceback for a renamed file), while decode_image sniffs the content anyway.
        upload = st.file_uploader(f"Upload a photo ({', '.join(ACCEPTED_EXTENSIONS)})", key=f"{key}_upload",
                                  help=ACCEPTED_TEXT)
        if upload is None:
            st.info(f"Choose an image file. {ACCEPTED_TEXT}")
            return None
        return _decode_or_error(upload.getvalue(), upload.name)
    snapshot = st.camera_input("Take a snapshot", key=f"{key}_camera")
    if snapshot is None:
        st.info("Allow camera access and take a snapshot.")
        return None
    return _decode_or_error(snapshot.getvalue(), "camera snapshot")


def _decode_or_error(data: bytes, name: str) -> DecodedImage | None:
    try:
        image = decode_image(data)
    except CNNLabError as err:
        st.error(f"Could not use **{name}**: {err}")
        return None
    for note in image.notes:
        st.caption(note)
    return image


def photo_defaults() -> tuple[str, str]:
    """(model, photo source) a photo page opens on: ResNet-18 on the cat when its ImageNet weights are
    here or can be downloaded (the download runs now, with progress, unless the link names a model),
    else the shipped ShapesNet on a shapes scene, so the first thing shown is a prediction the model
    can know."""
    from core import weights

    if st.query_params.get("model") is None:
        wait_for_weights("resnet18", REGISTRY["resnet18"].label)
    return ("resnet18", "Sample photo") if weights.available("resnet18") else ("shapesnet", "Synthetic shapes")


def model_picker(keys: Sequence[str], key: str, extra: dict[str, LoadedModel] | None = None,
                 default: str | None = None) -> LoadedModel | None:
    """Pick a registry model (mirrored into the URL), or one of ``extra`` (models trained in this
    session); say plainly where its weights came from."""
    extra = extra or {}
    options = list(keys) + list(extra)
    chosen = query_choice("model", options, default or keys[0])
    model_key = st.selectbox("Model", options, index=options.index(chosen), key=f"{key}_model",
                             format_func=lambda k: extra[k].spec.label if k in extra else REGISTRY[k].label)
    st.query_params["model"] = model_key
    if model_key in extra:
        loaded = extra[model_key]
        st.caption(f"{loaded.spec.summary} Input {loaded.spec.input_size}x{loaded.spec.input_size}.")
        return loaded
    if REGISTRY[model_key].kind == "torchvision":
        wait_for_weights(model_key, REGISTRY[model_key].label)
    try:
        loaded = cache.get_model(model_key)
    except CNNLabError as err:
        st.error(str(err))
        return None
    spec = loaded.spec
    st.caption(f"{spec.summary} Input {spec.input_size}x{spec.input_size}. Weights: {loaded.weights_source}.")
    if loaded.card:
        st.caption(f"Held-out figures (model card: assets/models/{model_key}.md): "
                   f"{loaded.card['single_shape_accuracy']:.1%} on single shapes, scene mAP "
                   f"{loaded.card['scene_map']:.2f}, calibration error {loaded.card['ece']:.3f}.")
    if loaded.notice:
        st.warning(loaded.notice)
    return loaded


def scene_caveat(loaded: LoadedModel, photo: DecodedImage) -> None:
    """Say so when a picture is one flat colour (any score on it is the model's error), or when a
    shipped model that learned one shape per image is shown a scene of several."""
    from core.images import is_one_colour

    if is_one_colour(photo.pixels):
        st.warning("This picture is a single colour: there is nothing in it to find, so whatever the model scores "
                   "here is its own error (it never saw a blank picture while training). Upload a photo or a "
                   "drawing with some structure.")
    if photo.scene is not None and loaded.card.get("scenes") is False:
        st.caption(f"{loaded.spec.label.split(' (')[0]} learned one shape per image, and with no global pooling it "
                   "has no way to find several anywhere in a picture: on a scene it is out of its depth. ShapesNet is "
                   "the model that learned scenes.")


def wait_for_weights(model_key: str, label: str) -> None:
    """If a torchvision model's ImageNet weights are missing but may be downloaded, download them
    (once per server, shared by every session asking) with a progress bar and a live ETA."""
    from core import weights

    if weights.available(model_key) or not weights.obtainable(model_key):
        return
    job = weights.download(model_key)
    if job is None:
        return
    bar = st.progress(0.0, text=f"Downloading {label}'s ImageNet weights...")
    while not job.finished.wait(0.2):
        eta = job.eta_s()
        bar.progress(job.fraction, text=f"Downloading {weights.file_name(model_key)}: {job.done / 2**20:.1f} of "
                     f"{job.total / 2**20:.1f} MB" + (f", about {eta:.0f} s left at this speed" if eta else ""))
    bar.empty()
    if job.error:
        st.warning(f"{job.error} Without them {label} has only random weights; the shipped models work offline.")
    else:
        st.caption(f"Downloaded {weights.file_name(model_key)} ({job.total / 2**20:.1f} MB) into the torch hub cache.")


def session_trained_models() -> dict[str, LoadedModel]:
    """Finished colour-image runs of the Training Monitor in this session, as explainable models
    (copied once per run and kept in the session)."""
    from core.models import from_trained

    kept: dict[str, LoadedModel] = st.session_state.setdefault("session_models", {})
    out = {}
    for run in st.session_state.get("tr_runs", []):
        t = run.trainer
        if run.alive or t.pos.epoch < 1 or t.train.x.shape[1] != 3:
            continue
        key = f"run-{run.id}-e{t.pos.epoch}"  # a resumed run gets a fresh copy
        if key not in kept:
            kept[key] = from_trained(key, f"Training page run {run.name.split()[0]} ({t.cfg.arch}, {run.dataset})",
                                     t.model, int(t.train.x.shape[-1]), t.mean.flatten().tolist(),
                                     t.std.flatten().tolist(), t.class_names,
                                     "trained on the Training Monitor in this session")
        out[key] = kept[key]
    for stale in set(kept) - set(out):  # dropped or resumed runs: free their copies
        del kept[stale]
    return out


def imagefolder_upload(key: str):
    """An ImageFolder zip uploader: (source key, dataset, notes) once a valid zip is in, else None
    (with what is accepted, or what was wrong with the file)."""
    from core.imagefolder import ACCEPTED_ZIP, MAX_ZIP_BYTES

    upload = st.file_uploader("ImageFolder zip: one folder per class", key=key, help=ACCEPTED_ZIP,
                              max_upload_size=MAX_ZIP_BYTES // 2**20)
    if upload is None:
        st.info(ACCEPTED_ZIP)
        return None
    try:
        return cache.uploaded_dataset(upload.getvalue(), upload.name)
    except CNNLabError as err:
        st.error(str(err))
        return None


def start_job(name: str, kind: str, work: Callable | None = None, **settings) -> None:
    """Start a job of a core.jobs kind with these settings (its key: plain data), or attach to the
    identical job another session started; this session's previous job of that name is left
    (stopped if no one else watches it). ``work(progress, should_stop)`` only for kinds whose
    work the page supplies. A closed browser tab leaves its jobs by itself."""
    from core.executor import executor, spec_for

    old = st.session_state.get(name)
    st.session_state[name] = executor().submit(spec_for(kind, settings, work), session_alive())
    if old is not None:
        old.stop()


def job_button(label: str, kind: str, settings: dict, key: str, where=None, **button_args) -> bool:
    """A button for a job, its label ending with the time the job would take on this server now,
    from the last run of its kind here (core.estimates); before one has finished, no number."""
    from core import estimates
    from core.executor import executor

    share = executor().share()
    text = estimates.describe(estimates.estimate(kind, settings, share), share)
    return (where or st).button(f"{label} ({text})" if text else label, key=key, **button_args)


def job_result(name: str):
    """The finished job's result. While it runs: a self-refreshing progress bar with its live ETA
    (or its place in the queue) and a Stop button, and None (the page redraws by itself when the
    job ends). A failed job shows why."""
    job = st.session_state.get(name)
    if job is None:
        return None
    if job.alive:
        st.fragment(run_every=1.0)(_job_progress)(name)
        return None
    if not job.attached and job.execution.alive:
        st.info(f"You stopped watching this job; {job.others} other session(s) keep it running. Start it "
                "again with the same settings to watch it.")
        return None
    if job.error or job.result is None:
        st.warning(job.error or "The job was stopped before it finished.")
        return None
    return job.result


def _job_progress(name: str) -> None:
    from core.executor import status_text

    job = st.session_state[name]
    if not job.alive:
        st.rerun()  # finished: redraw the whole page with the result
    st.progress(job.fraction, text=status_text(job))
    if job.others:
        st.caption(f"Shared: {job.others} other session(s) started this same job and watch it too. "
                   "Stop only stops it for you.")
    if st.button("Stop", key=f"{name}_stop"):
        last = not job.others
        job.stop()
        if last:
            job.join(timeout=10)
        st.rerun()


def quiz(section: str) -> None:
    """Render a quiz bank: one form per question, checked answers with explanations, session score."""
    try:
        bank = cache.quiz_bank(section)
    except CNNLabError as err:
        st.error(str(err))
        return
    results: dict[str, bool] = st.session_state.setdefault(f"quiz_results_{section}", {})
    if "quiz_seed" not in st.session_state:  # one shuffle per learner, kept across reruns and pages
        st.session_state["quiz_seed"] = quizlib.new_session_seed()
    st.subheader(bank.title)
    for n, q in enumerate(bank.questions, 1):
        # Widgets carry original option indices (keys and values), so an answer is its option's
        # identity: it stays put across reruns and is graded wherever the option is displayed.
        order = quizlib.option_order(st.session_state["quiz_seed"], section, q)
        with st.form(f"quiz_{section}_{q.id}"):
            st.markdown(f"**{n}. {q.prompt}**")
            if q.multiple:
                st.caption("Choose all that apply.")
                chosen = {i for i in order if st.checkbox(q.options[i], key=f"quiz_{section}_{q.id}_{i}")}
            else:
                pick = st.radio("Your answer", order, index=None, format_func=q.options.__getitem__,
                                key=f"quiz_{section}_{q.id}", label_visibility="collapsed")
                chosen = set() if pick is None else {pick}
            if st.form_submit_button("Check"):
                if chosen:
                    results[q.id] = quizlib.grade(q, chosen)
                else:
                    st.warning("Choose an answer first.")
            if q.id in results:
                if results[q.id]:
                    st.success("Correct.")
                else:
                    st.error("Not quite.")
                st.markdown(f"_{q.explanation}_")
    right = sum(results.get(q.id, False) for q in bank.questions)
    st.progress(right / len(bank.questions), text=f"{right} of {len(bank.questions)} correct this session")


def code_behind(build: Callable, key: str, files: Sequence[tuple[str, Callable[[], bytes], str]] = ()) -> None:
    """"The code behind this view": the script that reproduces it, as .py and Jupyter notebook
    downloads and in an expander. ``build()`` returns a core.codegen.Script; ``files`` are inputs the
    script reads (label, bytes, file name), offered as downloads beside it. The expander is lazy: the
    script is built and sent only while it is open (``st.session_state[key + "_open"]``), so a live
    view's every move does not rebuild and resend a page of code nobody is reading."""
    box = st.expander("The code behind this view (.py script and Jupyter notebook)", key=f"{key}_open",
                      on_change="rerun")
    if not box.open:
        return
    with box:
        try:
            script = build()
        except CNNLabError as err:
            st.info(str(err))
            return
        text = script.python()
        row = st.container(horizontal=True)  # each button as wide as its label (equal columns cut the long ones)
        row.download_button("Script (.py)", text, f"{script.name}.py", "text/x-python", key=f"{key}_py",
                            on_click="ignore")
        row.download_button("Notebook (.ipynb)", script.notebook, f"{script.name}.ipynb",
                            "application/x-ipynb+json", key=f"{key}_ipynb", on_click="ignore")
        for label, data, name in files:
            row.download_button(label, data, name, key=f"{key}_{name}", on_click="ignore")
        st.caption("Plain PyTorch, torchvision, pytorch-grad-cam and OpenCV, with this project's helpers copied in: "
                   "it runs without CNN Lab and prints the numbers shown here for the same settings.")
        st.code(text, language="python")
