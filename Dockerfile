# syntax=docker/dockerfile:1
# Sluice production image: one image, the role is the argument (`sluice api`, `sluice signer`, …).
#   docker build -t sluice .
#   docker run --rm sluice --help

# --- build: compile TypeScript with the dev dependencies -------------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# npm ci's postinstall (the libsecp256k1 binding, built in the deps stage; skipped here) needs its script.
COPY scripts/build-native.mjs ./scripts/
RUN npm ci --no-audit --no-fund --omit=optional
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- production dependencies only (native code is built here, not in the final image) ---------
# better-sqlite3; the signer's secp256k1: Sluice's binding to Debian's libsecp256k1 (postinstall,
# required here) and the optional `secp256k1` and `keccak` addons, without which it would sign with
# JavaScript about ten times slower. The optional anvil binary is for `sluice dev` only: removed.
FROM node:22-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ libsecp256k1-dev && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts/build-native.mjs ./scripts/
COPY native/libsecp256k1 ./native/libsecp256k1
RUN npm ci --no-audit --no-fund --omit=dev && node scripts/build-native.mjs --required \
 && rm -rf node_modules/@foundry-rs && npm cache clean --force

# --- runtime ------------------------------------------------------------------------------------
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    SLUICE_HOST=0.0.0.0 \
    SLUICE_PORT=8080 \
    SLUICE_HEALTH_PORT=9090 \
    SLUICE_LOG_FORMAT=json
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libsecp256k1-1 && rm -rf /var/lib/apt/lists/*
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=deps --chown=root:root /app/native/libsecp256k1/build/Release/sluice_secp256k1.node ./native/libsecp256k1/build/Release/
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
