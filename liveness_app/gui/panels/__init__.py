"""The docked panels: model info, faces and threshold (``info``), recording and the session list,
training (form and data sources). Each takes the services it needs and emits signals; the window wires them."""
