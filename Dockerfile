# syntax=docker/dockerfile:1
# distributor: one image for every role (scheduler, worker, web app, one-shot commands).
# Installs like the Makefile (pip install '.[all]'), into a virtualenv that the runtime stage
# copies; runs as a non-root user.
#
#   docker build -t distributor .
#   docker run --rm -v ./channels.yaml:/config/channels.yaml:ro distributor check
#   docker compose up            # PostgreSQL, db upgrade, scheduler, 2 workers, web, mail catcher

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --------------------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY distributor ./distributor
COPY templates ./templates
# the Makefile's install step (without the editable flag and the test extra)
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --upgrade pip \
    && pip install --no-cache-dir '.[all]'

# --------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="distributor" \
      org.opencontainers.image.description="Newsroom distribution bot: feeds and article files in; email digests, Telegram posts and X threads out." \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DISTRIBUTOR_CONFIG=/config/channels.yaml \
    DISTRIBUTOR_HEALTH_URL=http://127.0.0.1:8000/healthz

RUN useradd --create-home --uid 10001 --user-group distributor \
    && mkdir -p /config /data \
    && chown distributor:distributor /data
COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# Only the web app (`serve`) answers /healthz; for the other roles (run, worker) the check
# passes while their process runs (a container whose process ends stops anyway).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request as u; cmd=open('/proc/1/cmdline','rb').read().split(b'\\0'); sys.exit(0) if b'serve' not in cmd else sys.exit(0 if u.urlopen(os.environ['DISTRIBUTOR_HEALTH_URL'], timeout=4).status == 200 else 1)"]

# Mount your channels.yaml at /config/channels.yaml; secrets come from the environment
# (${NAME} in the file). A SQLite database and outbox folders belong under /data.
ENTRYPOINT ["distributor"]
CMD ["run"]
