# Production image of the customer-records archive (gunicorn on port 5000).
# Used by docker-compose.yml; configuration comes from ARCHIVE_* environment variables
# (archive_app/config.py).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ARCHIVE_DATA_DIR=/data

# libgl1 + libglib2.0-0: opencv-python (pulled in by the OCR engine) needs them to import;
# fonts-noto-cjk: the Chinese font the watermarks on borrowed pages are drawn with;
# postgresql-client-16: pg_dump/pg_restore for `archive backup`/`restore`, from the PostgreSQL project's
# apt repository (Debian 12 has 15, and pg_dump must be at least the server's version: postgres:16 in compose).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 fonts-noto-cjk postgresql-common \
 && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
 && apt-get install -y --no-install-recommends postgresql-client-16 \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 archive \
 && useradd --system --uid 10001 --gid archive --home-dir /app --no-create-home --shell /usr/sbin/nologin archive \
 && mkdir -p /data \
 && chown archive:archive /data

WORKDIR /app

# Only what the application needs at run time (there is no .dockerignore, so no `COPY . .`).
COPY pyproject.toml ./
COPY archive_app ./archive_app
COPY storage ./storage
COPY search_index ./search_index
COPY migrations ./migrations
COPY templates ./templates

# Installed in place (-e): the app finds migrations/ and templates/ next to the archive_app
# package (ROOT in archive_app/__init__.py), and those two folders are not part of the wheel
# a plain `pip install .` would build.
RUN pip install -e .
# The CJK font printed PDFs embed: Noto Sans CJK SC converted to TrueType (archive_app/printing/font_build.py),
# under /usr/local/share/archive/fonts, where the app looks by default.
RUN python -m archive_app.printing.font_build
# The OCR recogniser with int8 matrix products (archive_app/reading/model_build.py), from the model the
# rapidocr wheel carries, under /usr/local/share/archive/models, where OCR looks by default.
RUN python -m archive_app.reading.model_build

USER archive

EXPOSE 5000

# Migrate the database (idempotent), then replace the shell with the server so it gets SIGTERM.
CMD ["sh", "-c", "archive db upgrade && exec archive serve --host 0.0.0.0 --port 5000"]
