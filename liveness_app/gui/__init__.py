"""The Qt user interface. Qt is imported only in this package, and nothing imports this package except
the ``liveness_app.__main__`` entry point (import-linter contracts in pyproject.toml).

Layout: ``main_window`` composes; ``workers`` (capture/scoring QThreads, ``StreamController``);
``session`` (active model, device, pipeline: state without widgets); ``video_view`` (newest frame +
overlay, throttled to paints); ``menus``, ``panels``, ``status``, ``dialogs``, ``settings`` (QSettings).

Extension points for the recording and training panels:

- ``MainWindow.add_panel(widget, title, object_name, area, tabify)`` docks a panel and lists it under
  View > Panels (its dock position is saved with the window layout).
- ``window.controller.frame_ready`` delivers every captured ``core.realtime.Frame`` (GUI thread; keep the
  slot cheap or hand the frame to your own worker); ``result_ready`` every ``FrameResult``;
  ``window.controller.source`` is the running source.
- ``workers.start_in_thread(worker)`` / ``workers.stop_thread(worker, thread)`` run any QObject with
  ``run()``/``stop()``/``finished`` (e.g. a training ``fit()`` generator) on its own QThread.
- ``window.closing`` fires before the stream stops: stop your workers there.
- ``window.refresh_model_menu()`` and ``window.activate_model(path)`` pick up a model training just wrote.
"""
