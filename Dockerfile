# CNN Lab image for replicas, the nginx proxy and Ray nodes (docker-compose.yml, deploy/k8s/ use it).
#   docker build -t cnnlab:latest .
FROM python:3.11-slim-bookworm

# nginx: the compose proxy runs from this same image, with the config deploy/workshop.py renders.
# wget: KubeRay's default health probes on the Ray pods call it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx wget \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# PYTHONPATH: Ray workers start in their own directories and must still import `core`.
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app

# CPU-only torch for the image (no CUDA libraries: about 2 GB smaller). The versions are read from
# requirements.txt, which keeps PyPI's torch and no index URL; pip then keeps these wheels, because
# 2.14.1+cpu satisfies torch==2.14.1.
# Ray with its `default` extras, at the version requirements-workshop.txt pins: the Ray Client (ray://)
# and the dashboard that KubeRay's health probes query need them.
COPY requirements.txt requirements-workshop.txt ./
RUN pip install --index-url https://download.pytorch.org/whl/cpu $(grep -E '^(torch|torchvision)==' requirements.txt) \
    && pip install -r requirements.txt -r requirements-workshop.txt \
       "$(grep -E '^ray==' requirements-workshop.txt | sed 's/^ray/ray[default]/')"

COPY . .
RUN useradd --create-home --uid 1000 cnnlab && chown -R cnnlab /app
USER cnnlab
EXPOSE 8501
CMD ["streamlit", "run", "Home.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
