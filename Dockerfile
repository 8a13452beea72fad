FROM python:3.11-slim
# The image runs production settings unless told otherwise; they refuse to start misconfigured
# (docs/operations.md, "What production requires").
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=dumuwaks.settings.production
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
# Hashed, compressed static files with their manifest, served by WhiteNoise from the app. Collected with the
# local settings because production settings need the deployment's environment, which a build does not have;
# both use the same storage.
RUN DJANGO_SETTINGS_MODULE=dumuwaks.settings.local python manage.py collectstatic --noinput -v 0
EXPOSE 8000
CMD ["uvicorn", "dumuwaks.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
