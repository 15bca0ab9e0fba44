import os

# One thread for numpy's linear algebra (messaging/embedding.py reads each text on one core): the
# web and worker processes already use every core, and OpenBLAS's own threads spin while they wait,
# which multiplied the CPU a text cost several times over under load. Set before numpy is imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Load the Celery app whenever Django starts so that @shared_task binds to it.
from .celery import app as celery_app  # noqa: E402 - after the thread settings above

__all__ = ("celery_app",)
