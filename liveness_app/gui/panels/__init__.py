"""The docked panels: model info, faces and threshold (``info``), recording and the session list (its cells in
``session_rows``, the label choice in ``label_picker``), training (form, data sources, and what a run says in
``training_status``). Each takes the services it needs and emits signals; the window wires them."""
