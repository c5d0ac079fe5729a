# syntax=docker/dockerfile:1
# Production image: build with the full toolchain, run on Node 24 LTS slim as a non-root user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

# k6 pinned on purpose: a current release (README "Load profiles"). The scripts in loadtests/ stay ES2017 so
# they also run on k6 v0.49 to v0.51 (older k6 cannot parse newer syntax); below v0.49.0 is a startup warning.
FROM grafana/k6:2.3.0 AS k6

FROM node:24-bookworm-slim AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Post-deploy watch daemon: probes, SLO verdicts, k6 load profiles, signed rollback webhooks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/prep/vigil"
RUN apt-get update && apt-get install -y --no-install-recommends tini ca-certificates && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 vigil && useradd --uid 10001 --gid vigil --no-create-home --shell /usr/sbin/nologin vigil \
 && mkdir -p /data && chown vigil:vigil /data
WORKDIR /app
COPY --from=k6 /usr/bin/k6 /usr/local/bin/k6
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json vigil.yaml vigil.schema.json ./
COPY probes ./probes
COPY slo ./slo
COPY loadtests ./loadtests
ENV NODE_ENV=production \
    VIGIL_LISTEN=0.0.0.0:9469 \
    VIGIL_DATA_DIR=/data \
    VIGIL_K6_PATH=/usr/local/bin/k6 \
    LOG_FORMAT=json
USER vigil
VOLUME ["/data"]
EXPOSE 9469
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9469/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini as PID 1 forwards SIGTERM to the daemon and reaps k6 children.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/src/main.js"]
CMD ["serve", "--config", "/app/vigil.yaml"]
