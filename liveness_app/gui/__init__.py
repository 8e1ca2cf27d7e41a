"""The Qt user interface. Qt is imported only in this package, and nothing imports this package except
the ``liveness_app.__main__`` entry point (import-linter contracts in pyproject.toml).

Layout: ``main_window`` composes; ``workers`` (capture/scoring QThreads, ``StreamController``);
``session`` (active model, device, pipeline: state without widgets); ``video_view`` (newest frame +
overlay, throttled to paints); ``menus``, ``panels``, ``status``, ``dialogs``, ``settings`` (a JSON file, never a pickle).

Panels get services, not the window (pymmcore-widgets' shape): ``RecordingPanel(controller, store)``,
``TrainingPanel(model_provider)``; they emit signals (``message``, ``model_trained``, ``use_model``,
``recording_started``/``stopped``) and expose ``shutdown()``, and ``main_window`` alone wires them.

- ``recorder_service.RecorderService``: (label, subject, notes) -> a recorded session, with ``started``,
  ``finished``, ``refused`` and ``failed`` signals. The Recording panel owns it (``recorder_service``) and
  shows what it reports; the "Adapt to my camera" dialog records through the same service, never through
  the panel's widgets.
- ``MainWindow.add_panel(widget, title, object_name, area, tabify)`` docks a panel and lists it under
  View > Panels (its dock position is saved with the window layout).
- ``StreamController``: ``frame_ready`` (every ``core.realtime.Frame``, GUI thread, for display),
  ``result_ready`` (every ``FrameResult``), ``state_changed`` (a source started, gave its first frame, or
  stopped), ``frame_size``, ``source``, and ``set_frame_sink(fn)``: ``fn(image)`` called on the capture
  thread with every frame (the recorder's queue), so recording never goes through the GUI thread.
- ``tasks.TaskRunner`` runs one task (a ``fit()`` generator, an evaluation) at a time on its own QThread:
  progress by signal, cancel, ``shutdown`` that waits; ``workers.start_in_thread`` underneath.
"""
