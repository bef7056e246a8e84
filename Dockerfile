FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY . .
RUN pip install --no-cache-dir . && python manage.py collectstatic --noinput || true
EXPOSE 8000
CMD ["gunicorn", "mdm_server.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4"]
