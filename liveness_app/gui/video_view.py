"""The live view: each frame with the boxes found in that frame, drawn at most once per paint, aspect kept.

Frames arrive at the source rate and results some frames later; :class:`~liveness_app.core.pairing.FramePairer`
holds the frames back by the measured scoring lag (half a second at most) so that each is painted with its own
result, or the results on either side of it interpolated, and a moving face's box no longer trails it. A
paint takes the newest frame due, which Qt coalesces, so a slow display skips frames instead of queueing
them (latest frame wins). The overlay itself is :func:`liveness_app.core.overlay.draw_result`; this widget
only converts and paints.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize, Qt
from PyQt6.QtGui import QAction, QColor, QImage, QPainter, QPaintEvent
from PyQt6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from ..core.files import atomic_write_bytes
from ..core.overlay import OverlayOptions, draw_result
from ..core.pairing import FramePairer
from ..core.pipeline import FrameResult
from ..core.realtime import Frame

BACKGROUND = QColor(24, 24, 27)


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """A QImage over the array's buffer, no copy: the caller keeps ``image`` alive as long as the QImage.

    The array must be C-contiguous (a silent contiguous copy here would die with this function).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 BGR image, got {image.shape} {image.dtype}")
    if not image.flags.c_contiguous:
        raise ValueError("image must be C-contiguous (np.ascontiguousarray it and keep that array)")
    h, w = image.shape[:2]
    # PyQt's stubs say bytes; any buffer does, and the array's own keeps this without a copy
    return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888)  # type: ignore[call-overload]


def fit_rect(image_size: QSize, area: QRect) -> QRect:
    """The largest rectangle of the image's aspect ratio centred in ``area``."""
    scaled = image_size.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
    x = area.x() + (area.width() - scaled.width()) // 2
    y = area.y() + (area.height() - scaled.height()) // 2
    return QRect(x, y, scaled.width(), scaled.height())


class VideoView(QWidget):
    """Shows the stream, or a centred message (and an action button) when there is no source."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.options = OverlayOptions()
        self._pairer = FramePairer()  # frames not painted yet, and the results to draw on them
        self._buffer: np.ndarray | None = None  # the overlaid frame the QImage points into
        self._qimage: QImage | None = None
        self.painted = 0  # frames actually painted (the display rate is painted / time)
        self._build_placeholder()

    def _build_placeholder(self) -> None:
        self._placeholder = QWidget(self)
        layout = QVBoxLayout(self._placeholder)
        layout.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._message = QLabel(self._placeholder)
        self._message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._message.setWordWrap(True)
        self._message.setStyleSheet("color: #e4e4e7; font-size: 15px;")
        self._button = QToolButton(self._placeholder)
        self._button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        layout.addWidget(self._message)
        layout.addWidget(self._button, alignment=Qt.AlignmentFlag.AlignCenter)
        outer = QVBoxLayout(self)
        outer.addWidget(self._placeholder)
        self._placeholder.hide()

    # -- what to show ---------------------------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        """A new frame of the source: painted when due (see the module), unless a newer one is due first."""
        self._pairer.push_frame(frame)
        self.update()

    def show_result(self, result: FrameResult) -> None:
        """Scores of the frame ``result.frame_index``: drawn on that frame and, interpolated, on its neighbours."""
        self._pairer.push_result(result)

    @property
    def delay(self) -> float:
        """How far behind the source the picture is shown now (s), so that its boxes are its own."""
        return self._pairer.delay

    def set_options(self, options: OverlayOptions) -> None:
        """Overlay options for the frames that follow."""
        self.options = options

    def show_message(self, text: str, action: QAction | None = None) -> None:
        """No source: drop the picture and show ``text`` (and a button for ``action``) in the middle."""
        self.clear()
        self._message.setText(text)
        self._button.setVisible(action is not None)
        if action is not None:
            self._button.setDefaultAction(action)
        self._placeholder.show()
        self.update()

    def clear(self) -> None:
        self._pairer.reset()
        self._buffer, self._qimage = None, None
        self._placeholder.hide()
        self.update()

    @property
    def message(self) -> str:
        """The message shown, or "" while a picture is shown."""
        return self._message.text() if self._placeholder.isVisibleTo(self) else ""

    def current_image(self) -> np.ndarray | None:
        """The frame as last painted, overlay included (BGR), for snapshots."""
        return None if self._buffer is None else self._buffer.copy()

    def save_snapshot(self, folder: Path) -> Path | None:
        """Write the frame as shown (overlay included, source resolution) as a PNG in ``folder``.

        Returns its path; None when no frame has been shown yet. Raises OSError if it cannot be written.
        """
        if self._qimage is None:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"snapshot-{datetime.now():%Y%m%d-%H%M%S-%f}.png"
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not self._qimage.save(buffer, "PNG"):
            raise OSError(f"cannot encode the snapshot {path.name}")
        atomic_write_bytes(path, data.data())  # whole or not at all; DiskFullError says where
        return path

    # -- painting -------------------------------------------------------------------------------------
    def _render_pending(self) -> None:
        due = self._pairer.due()
        if due is None or due[0].image is None:
            return
        frame, result = due
        self._buffer = draw_result(frame.image, result, self.options)
        self._qimage = bgr_to_qimage(self._buffer)  # points into self._buffer, which we keep
        self._placeholder.hide()
        self.painted += 1

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 (Qt's name)
        self._render_pending()
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self._qimage is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(fit_rect(self._qimage.size(), self.rect()), self._qimage)
        painter.end()
