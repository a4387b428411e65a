"""How fast the tracker runs: timers of its steps (`timing.py`) and the
same step in PyTorch to compare with (`torch_step.py`, needs torch)."""
