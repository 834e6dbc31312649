# One image for the web process and the Celery workers.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config default-libmysqlclient-dev curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .

# Every path docker-compose.yml mounts a volume at exists here, owned by brainscan: Docker
# copies that ownership into a new named volume (a missing path would be created root-owned,
# and uploads to /data/private would fail). brainscan/tests/test_docker.py checks this.
RUN useradd --create-home --uid 10001 brainscan \
 && mkdir -p /app/var/private /app/staticfiles /data/private /data/dicom-spool \
 && chown -R brainscan:brainscan /app/var /app/staticfiles /data/private /data/dicom-spool
USER brainscan
# collectstatic needs settings but no services: give it a throwaway key for this build step only.
RUN SECRET_KEY=collectstatic-only DB=sqlite python manage.py collectstatic --noinput -v0

EXPOSE 8000
# Threads keep the site answering while API clients hold a request open with ?wait=N.
CMD ["gunicorn", "brainscan.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "8", "--timeout", "60", "--access-logfile", "-"]
