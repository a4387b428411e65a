"""Flags of the tracker's arithmetic, shared by `track`, `evaluate` and
`export`.

    siamfc-jax track --precision=int8 [--calibration=DIR[,DIR]]

fp32 is the faithful tracker; int8 runs the onnxruntime steps quantized
after calibrating on real frames (`siamfc_jax/export/int8.py`,
`docs/int8.md`).
"""

from absl import flags

PRECISION = flags.DEFINE_enum(
    "precision", "fp32", ["fp32", "int8"],
    "fp32: the faithful tracker; int8: the onnxruntime steps quantized, "
    "calibrated on --calibration (siamfc_jax/export/int8.py).")
CALIBRATION = flags.DEFINE_list(
    "calibration", None, "With --precision=int8: sequence folders "
    "(DIR[,DIR]) to calibrate on; default: the bundled demo clip.")
