# syntax=docker/dockerfile:1
# ssc as a container for cron and Kubernetes: one-shot jobs (`ssc update pypi`) and the
# long-running `ssc drain-queue` worker. docs/operations.md says how to build and run it.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the ssc wheel and every dependency as wheels, installed into /opt/ssc -------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ssc_cli ./ssc_cli
# tests/deploy/test_image.py builds the wheel the same way (pip wheel of these three inputs).
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/ssc \
 && pip --python /opt/ssc/bin/python install --no-cache-dir --no-index --find-links /wheels ssc \
 && /opt/ssc/bin/python -m compileall -q /opt/ssc/lib

# --- runtime: the virtualenv only; no compiler, no pip cache, no wheels, no secrets --------------
FROM ${PYTHON_IMAGE} AS runtime
ARG SSC_VERSION=0.1.0
LABEL org.opencontainers.image.title="ssc" \
      org.opencontainers.image.description="Keeps a software-supply-chain graph current from six package registries." \
      org.opencontainers.image.version="${SSC_VERSION}" \
      org.opencontainers.image.licenses="GPL-3.0-or-later" \
      org.opencontainers.image.source="https://github.com/securechaindev/securechain-ssc-ingestion" \
      org.opencontainers.image.documentation="docs/operations.md"
# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --gid 10001 ssc \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/ssc --shell /usr/sbin/nologin ssc \
 && mkdir -p /var/lib/ssc /var/cache/ssc \
 && chown -R 10001:10001 /var/lib/ssc /var/cache/ssc
COPY --from=build /opt/ssc /opt/ssc
# Writable places only: the data dir (graph, archives, cursors: keep it) and the cache dir
# (HTTP cache: disposable). Everything else may be a read-only root filesystem.
ENV PATH=/opt/ssc/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/ssc \
    SSC_DATA_DIR=/var/lib/ssc \
    SSC_CACHE_DIR=/var/cache/ssc \
    SSC_METRICS_DIR=/var/lib/ssc/metrics
VOLUME ["/var/lib/ssc"]
WORKDIR /var/lib/ssc
USER 10001:10001
# Exec form: ssc is PID 1 and receives SIGTERM itself (it installs its own handler, so
# `docker stop` and a pod's termination end drain-queue after its batch; no shell in between).
ENTRYPOINT ["ssc"]
CMD ["--help"]
