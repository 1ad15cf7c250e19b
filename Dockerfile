# syntax=docker/dockerfile:1
# Sluice production image: one image, the role is the argument (`sluice api`, `sluice signer`, …).
#   docker build -t sluice .
#   docker run --rm sluice --help

# --- build: compile TypeScript with the dev dependencies -------------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=optional
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- production dependencies only (better-sqlite3 is built here, not in the final image) ------
FROM node:22-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev --omit=optional && npm cache clean --force

# --- runtime ------------------------------------------------------------------------------------
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    SLUICE_HOST=0.0.0.0 \
    SLUICE_PORT=8080 \
    SLUICE_HEALTH_PORT=9090 \
    SLUICE_LOG_FORMAT=json
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root deploy/docker/healthcheck.mjs ./healthcheck.mjs
RUN chmod 0755 dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/sluice
# The image's `node` user (uid 1000); nothing in /app is writable by it.
USER node
EXPOSE 8080 9090
# /healthz on whichever port this role serves (api: SLUICE_PORT; workers: SLUICE_HEALTH_PORT).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
ENTRYPOINT ["sluice"]
CMD ["--help"]
