"""The training wing of the toy benchmark: the U-Nets' training protocol (supplement S1.2)."""
