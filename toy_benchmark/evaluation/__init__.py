"""The evaluation wing of the toy benchmark: IoU and the context-bias saliency metrics (Sec. 4.2)."""
