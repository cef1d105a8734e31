# Peygir: one image for the API (the default command), the worker (`python worker.py`)
# and the migrations (`python -m db.migrate`). docker-compose.yml runs all three.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# tzdata: domain/calendar.py needs the Asia/Tehran zone at import time, and newer slim
# bases no longer carry the time-zone database.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The dependencies first, in their own layer: [tool.setuptools] packages is empty, so
# `pip install .` installs the [project] dependencies and no code; the code is copied below
# and found through PYTHONPATH=/app (the working directory).
COPY pyproject.toml ./
RUN pip install . && rm -rf build ./*.egg-info

COPY alembic.ini settings.py worker.py ./
COPY api ./api
COPY activities ./activities
COPY db ./db
COPY domain ./domain
COPY workflows ./workflows
COPY processes ./processes
RUN python -m compileall -q /app

# The code stays owned by root and read-only to the process.
RUN groupadd --system --gid 10001 peygir \
    && useradd --system --uid 10001 --gid peygir --home-dir /app --shell /usr/sbin/nologin peygir \
    && install -d -o 10001 -g 10001 -m 700 /var/lib/peygir/files
USER 10001:10001

EXPOSE 8000

# "ok" only when both PostgreSQL and Temporal answer. The worker and the one-shot migrate
# service switch this check off in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import json, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4); sys.exit(0 if json.load(r).get('status') == 'ok' else 1)"]

CMD ["uvicorn", "--factory", "api.app:app_factory", "--host", "0.0.0.0", "--port", "8000"]
