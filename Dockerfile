# distributor: installs like the Makefile (pip install '.[all]'), runs as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DISTRIBUTOR_CONFIG=/config/channels.yaml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY distributor ./distributor
COPY templates ./templates
RUN pip install --upgrade pip && pip install '.[all]' \
    && useradd --create-home --uid 10001 distributor \
    && mkdir -p /config /data && chown distributor /data

USER distributor
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# Mount your channels.yaml at /config/channels.yaml; keep the database under /data.
CMD ["distributor", "run"]
