"""The TensorFlow side of serving: thread pools, the verified load, the compiled model.

`load_verified` refuses a model whose file does not match its card's SHA-256; `ServedModel`
wraps it in two `tf.function`s (forward pass with the pooled feature map, and Grad-CAM),
traced once at load. TensorFlow itself is imported only inside these functions, so importing
this module (and ml.serving.engine) stays cheap for the web process.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ml.artifacts import CARD_FILE
from ml.card import ModelCard, load_card, sha256_file

log = logging.getLogger(__name__)

THREADS_ENV = "BRAINSCAN_TF_THREADS"
BFLOAT16_ENV = "BRAINSCAN_TF_BFLOAT16"
BATCH_BFLOAT16_ENV = "BRAINSCAN_TF_BATCH_BFLOAT16"


def cpu_has_bfloat16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True where the CPU computes bfloat16 itself (AVX512-BF16 or AMX-BF16). Elsewhere
    TensorFlow would emulate it, slower than float32, so "auto" leaves it off there."""
    try:
        words = set(Path(cpuinfo).read_text(encoding="ascii", errors="replace").split())
    except OSError:
        return False
    return bool(words & {"avx512_bf16", "amx_bf16"})


def batch_bfloat16_wanted(setting: str, cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """BRAINSCAN_TF_BATCH_BFLOAT16: "1" on, "0" off, "auto" on where the CPU has bfloat16."""
    value = setting.strip().lower()
    if value == "auto":
        return cpu_has_bfloat16(cpuinfo)
    if value in ("0", "1"):
        return value == "1"
    raise ValueError(f"{BATCH_BFLOAT16_ENV} must be 0, 1 or auto, not {setting!r}")


class ModelUnavailable(RuntimeError):
    """The model, its card or its gate statistics are missing, unreadable or do not match."""


def configure_threads(threads: int | None = None) -> int:
    """Set TensorFlow's thread pools before it starts; returns the intra-op count in use.

    A worker analyses one scan at a time, so one op at a time (inter-op 1) and `threads`
    threads inside each convolution. Default: env BRAINSCAN_TF_THREADS, else 1, so N
    worker processes on N cores do not fight over them. OpenCV (decode, crop, overlay) and
    numpy's BLAS (the gate's distances) get the same count instead of their default of one
    thread per core: BLAS threads that spin-wait for a core another process holds cost more
    than they save on the gate's small products. TensorFlow fixes its pools when it first
    runs an op; later calls can only log that they came too late.
    """
    import tensorflow as tf
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # (scikit-learn's)

    wanted = threads if threads is not None else int(os.environ.get(THREADS_ENV, "1"))
    if wanted < 1:
        raise ValueError(f"thread count must be >= 1, got {wanted}")
    cv2.setNumThreads(wanted)
    threadpool_limits(wanted, user_api="blas")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(wanted)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        current: int = tf.config.threading.get_intra_op_parallelism_threads()
        if current != wanted:
            log.warning("TensorFlow already started with %s threads; %s ignored", current, wanted)
        return current
    return wanted


def configure_bfloat16(enabled: bool | None = None) -> bool:
    """Let TensorFlow's graph optimizer run the model in bfloat16 where oneDNN can.

    On CPUs with native bfloat16 (AVX512-BF16, AMX) convolutions run about 1.5x faster;
    elsewhere they are emulated and slower, hence off by default (env BRAINSCAN_TF_BFLOAT16=1
    turns it on). Probabilities move by about 1e-3; ml/cli/bench.py measures both the speed and
    the difference against float32 on real test slices. Applies to graphs traced after it.
    """
    import tensorflow as tf

    on = enabled if enabled is not None else os.environ.get(BFLOAT16_ENV, "0") == "1"
    tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": on})
    return on


class ServedModel:
    """The Keras model behind two compiled functions: the forward pass and Grad-CAM.

    `forward` returns the feature map of `last_conv` along with the logits, so the gate's
    features and Grad-CAM's activations come from the same single pass. The served model
    itself is never modified (see ml/serving/gradcam.py).
    """

    # TensorFlow and Keras are untyped here: a model and a tensor are Any at our boundary.
    def __init__(
        self,
        model: Any,
        last_conv: str,
        input_size: int,
        channels: int,
        *,
        batch_bfloat16: bool = False,
    ) -> None:
        import tensorflow as tf

        from ml.serving.gradcam import gradcam_from_features, split_at

        self.model = model
        self.body, self.head = split_at(model, last_conv)
        # The batched functions run on a bfloat16 copy when asked (see bfloat16_copy).
        self.batch_bfloat16 = batch_bfloat16
        # Only the body: the head (pooling and dense, where Grad-CAM's gradient flows) stays
        # float32 on the body's feature map cast back to float32.
        self._batch_body = (
            split_at(bfloat16_copy(model), last_conv)[0] if batch_bfloat16 else self.body
        )
        image_spec = tf.TensorSpec((1, input_size, input_size, channels), tf.float32)
        map_spec = tf.TensorSpec((1, *self.body.output.shape[1:]), self.body.output.dtype)
        self._forward = tf.function(self._forward_graph, input_signature=[image_spec])
        self._gradcam = tf.function(
            lambda feature_map, index: gradcam_from_features(self.head, feature_map, index),
            input_signature=[map_spec, tf.TensorSpec((), tf.int32)],
        )
        self.gradcam(self.forward(np.zeros(image_spec.shape, np.float32))[0], 0)  # trace now
        self._input_size, self._channels = input_size, channels
        self._forward_many: Any = None  # the batched functions are traced on first use
        self._gradcam_many: Any = None

    def _forward_graph(
        self, batch: Any, body: Any = None, head: Any = None
    ) -> tuple[Any, Any, Any]:
        import tensorflow as tf

        body = self.body if body is None else body
        head = self.head if head is None else head
        feature_map = tf.cast(body(batch, training=False), self.body.output.dtype)
        logits = tf.cast(head(feature_map, training=False), tf.float32)
        pooled = tf.reduce_mean(tf.cast(feature_map, tf.float32), axis=(1, 2))
        return feature_map, logits, pooled

    def forward(
        self, batch: NDArray[np.float32]
    ) -> tuple[Any, NDArray[np.float32], NDArray[np.float32]]:
        """(1, size, size, channels) float32 -> (feature map tensor, logits, pooled features)."""
        feature_map, logits, pooled = self._forward(batch)
        logits_row: NDArray[np.float32] = logits.numpy()[0]
        pooled_row: NDArray[np.float32] = pooled.numpy()[0]
        return feature_map, logits_row, pooled_row

    def gradcam(self, feature_map: Any, class_index: int) -> NDArray[np.float32]:
        """Grad-CAM at the feature map's resolution, in [0, 1]."""
        heatmap: NDArray[np.float32] = self._gradcam(feature_map, np.int32(class_index)).numpy()
        return heatmap

    def forward_batch(
        self, batch: NDArray[np.float32]
    ) -> tuple[Any, NDArray[np.float32], NDArray[np.float32]]:
        """(n, size, size, channels) float32 -> (feature maps tensor, logits (n, classes),
        pooled features (n, k)): one graph call for a whole batch of slices."""
        import tensorflow as tf

        from ml.serving.gradcam import gradcam_batch_from_features

        if self._forward_many is None:
            body, head = self._batch_body, self.head
            spec = tf.TensorSpec((None, self._input_size, self._input_size, self._channels))
            map_spec = tf.TensorSpec((None, *body.output.shape[1:]), self.body.output.dtype)
            self._forward_many = tf.function(
                lambda batch: self._forward_graph(batch, body, head), input_signature=[spec]
            )
            self._gradcam_many = tf.function(
                lambda maps, indices: gradcam_batch_from_features(head, maps, indices),
                input_signature=[map_spec, tf.TensorSpec((None,), tf.int32)],
            )
        feature_maps, logits, pooled = self._forward_many(batch)
        logits_rows: NDArray[np.float32] = logits.numpy()
        pooled_rows: NDArray[np.float32] = pooled.numpy()
        return feature_maps, logits_rows, pooled_rows

    def gradcam_batch(
        self, feature_maps: Any, class_indices: NDArray[np.int_], rows: list[int] | None = None
    ) -> NDArray[np.float32]:
        """Grad-CAM of the images of a `forward_batch` call (those at `rows`, default all),
        one class each: (n, h, w)."""
        import tensorflow as tf

        if self._gradcam_many is None:
            raise RuntimeError("call forward_batch first")
        if rows is not None and len(rows) != int(feature_maps.shape[0]):
            feature_maps = tf.gather(feature_maps, rows)
        cams: NDArray[np.float32] = self._gradcam_many(
            feature_maps, np.asarray(class_indices, np.int32)
        ).numpy()
        return cams


def bfloat16_copy(model: Any) -> Any:
    """The model rebuilt with Keras's "mixed_bfloat16" policy (bfloat16 compute, float32
    variables) and the same weights: convolutions run on the CPU's bfloat16 units. The
    served model and its file are untouched."""
    import keras

    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer":
            layer["config"]["dtype"] = "mixed_bfloat16"
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def load_verified(
    model_path: str | Path,
    card_path: str | Path | None = None,
    *,
    threads: int | None = None,
    bfloat16: bool | None = None,
    batch_bfloat16: bool | None = None,
) -> tuple[ServedModel, ModelCard]:
    """Load the model after checking it against its card (file present, SHA-256 equal).

    Raises:
        ModelUnavailable: with a message fit for an operator (paths, hashes; no scan data).
    """
    model_path = Path(model_path)
    card = _read_card(Path(card_path) if card_path else model_path.parent / CARD_FILE)
    if not model_path.is_file():
        raise ModelUnavailable(f"model file not found: {model_path}")
    actual = sha256_file(model_path)
    if actual != card.sha256:
        raise ModelUnavailable(
            f"model file {model_path} has SHA-256 {actual[:12]}..., but its model card "
            f"expects {card.sha256[:12]}...: refusing to serve an unverified model"
        )
    configure_threads(threads)
    configure_bfloat16(bfloat16)
    if batch_bfloat16 is None:
        batch_bfloat16 = batch_bfloat16_wanted(os.environ.get(BATCH_BFLOAT16_ENV, "0"))
    return _build_served(model_path, card, batch_bfloat16=batch_bfloat16), card


def _read_card(path: Path) -> ModelCard:
    if not path.is_file():
        raise ModelUnavailable(f"model card not found: {path}")
    try:
        return load_card(path)
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelUnavailable(f"model card {path} is invalid: {exc}") from exc


def _build_served(model_path: Path, card: ModelCard, *, batch_bfloat16: bool) -> ServedModel:
    import keras

    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad file
        raise ModelUnavailable(f"cannot load model {model_path}: {exc}") from exc
    expected = (None, card.input_size, card.input_size, card.channels)
    if tuple(model.input_shape) != expected or model.output_shape[-1] != len(card.class_names):
        raise ModelUnavailable(
            f"model shapes {model.input_shape} -> {model.output_shape} do not match the card "
            f"({expected} -> {len(card.class_names)} classes)"
        )
    try:
        return ServedModel(
            model,
            card.last_conv_layer,
            card.input_size,
            card.channels,
            batch_bfloat16=batch_bfloat16,
        )
    except ValueError as exc:
        raise ModelUnavailable(f"cannot split model at {card.last_conv_layer!r}: {exc}") from exc
