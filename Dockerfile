# `jina-v3 serve`: the Jina embeddings API (POST /v1/embeddings) over the local model.
#
#   docker build -t jina-v3-connectors .
#   docker run -p 127.0.0.1:8080:8080 -e JINA_V3_API_KEY=change-me \
#     -v jina-v3-hf-cache:/data/huggingface jina-v3-connectors
#
# The entrypoint is the `jina-v3` command line, so `docker run IMAGE embed --help` works too.
# The weights come from the Hugging Face hub on first start (cached in /data/huggingface), or
# from a mounted checkpoint directory: `-v ./ckpt:/models/v3:ro`, then `serve --model /models/v3`.
FROM python:3.11-slim

# The constraints pin torch==2.13.0; this index serves its CPU build (PyPI's is a multi-GB CUDA
# build). For a CUDA image: --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/data/huggingface

WORKDIR /app
COPY .ci/constraints.txt .ci/constraints.txt
COPY pyproject.toml README.md ./
COPY core core
COPY connectors connectors
RUN pip install --extra-index-url "${TORCH_INDEX_URL}" -c .ci/constraints.txt ".[local,server]" \
    && jina-v3 serve --help > /dev/null

# An unprivileged user; the hub cache directory exists (and is theirs) so that a named volume
# mounted there starts with the right owner.
RUN useradd --create-home --uid 10001 jina \
    && mkdir -p /data/huggingface \
    && chown -R jina:jina /data
USER jina

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

ENTRYPOINT ["jina-v3"]
CMD ["serve", "--model", "jinaai/jina-embeddings-v3", "--host", "0.0.0.0", "--port", "8080", "--api-key-env", "JINA_V3_API_KEY"]
