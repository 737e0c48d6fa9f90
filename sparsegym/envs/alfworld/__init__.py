"""ALFWorld family (extra ``text``)."""
