"""The Qt user interface. Qt is imported only in this package, and nothing imports this package except
the ``liveness_app.__main__`` entry point (import-linter contracts in pyproject.toml).

Layout: ``main_window`` composes and wires; ``workers`` (capture/scoring workers, ``StreamController``) on
``qthreads``; ``active_model`` (the model that scores: loading via ``model_loader``, device, engine, threshold,
pipeline; signals, no widgets) and ``model_views`` (the menus, Model panel and threshold control that show it);
``video_sources`` (cameras and video files), ``snapshots``, ``overlay_toggles``; ``stream_display`` (a source
starts or is lost: view, statistics, status bar); ``video_view`` (newest frame + overlay, throttled to paints);
``adapt_flow`` (opens "Adapt to my camera", uses what it gives); ``docks`` (panels scroll in their docks),
``window_fit`` (the window fits its screen), ``about`` (Help > About), ``menus``, ``panels``, ``status``,
``dialogs``, ``settings`` (a JSON file, never a pickle).

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
- ``active_model.ActiveModel``: ``activate(path)``, ``set_device``, ``set_backend``, ``set_threshold``,
  ``calibrate_camera``; signals ``load_started``, ``model_changed``, ``load_failed`` (a ``LoadFailure``),
  ``threshold_changed`` (a ``core.threshold.Threshold``: value and source), ``device_changed``,
  ``backend_changed``.
- ``tasks.TaskRunner`` runs one task (a ``fit()`` generator, an evaluation) at a time on its own QThread:
  progress by signal, cancel, ``shutdown`` that waits; ``qthreads.start_in_thread`` underneath (worker and
  thread delete themselves when finished). ``errored`` signals carry the exception; ``tasks.error_text``
  words it.
"""
