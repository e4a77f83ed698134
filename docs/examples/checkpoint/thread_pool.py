"""Work done by a thread pool finishes out of order: track() marks each item done when its future succeeds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every

IMAGES = [f"img-{n:03d}.png" for n in range(1, 101)]


def resize(image: str, try_number: int) -> None:
    """Stand-in for downloading, resizing and uploading one image."""
    if try_number == 1 and image == "img-042.png":
        raise OSError(f"{image}: corrupt file")


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(seconds=0)})
def checkpoint_thread_pool():
    @task
    def resize_images(ti=None):
        with Checkpointer("images", commit=every(10)) as ckpt:
            todo = list(ckpt.remaining(IMAGES))  # (position, image) pairs not finished by an earlier try
            print(f"try {ti.try_number}: {len(todo)} images to resize: {[image for _, image in todo][:5]}")
            with ThreadPoolExecutor(max_workers=4) as pool:
                futures = [ckpt.track(pos, pool.submit(resize, image, ti.try_number)) for pos, image in todo]
            for future in futures:
                future.result()  # fail the task if any image failed; the others stay done

    resize_images()


checkpoint_thread_pool()
