# ssc as a container for Kubernetes CronJobs: `ssc update pypi`, `ssc drain-queue`, ...
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 ssc
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ssc_cli ./ssc_cli
RUN pip install --no-cache-dir .
USER ssc
ENV SSC_DATA_DIR=/home/ssc/data SSC_CACHE_DIR=/home/ssc/cache
ENTRYPOINT ["ssc"]
CMD ["--help"]
