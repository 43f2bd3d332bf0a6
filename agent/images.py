"""Images given with a prompt (`codex exec --image PATH`): read once into the `data:` URL an endpoint receives
as an `input_image` / `image_url` part. Errors are usage errors (exit 2): the file is the user's to fix."""

from __future__ import annotations

import base64
from pathlib import Path

from agent.errors import UsageError

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp"}


def image_data_url(path: Path) -> str:
    kind = IMAGE_TYPES.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"--image {path}: not a PNG, JPEG, GIF or WebP file name; pass an image with one of "
                         f"the suffixes {', '.join(IMAGE_TYPES)}.")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"--image {path}: cannot be read ({e.strerror or e}); pass the path of an existing "
                         "image.") from e
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
