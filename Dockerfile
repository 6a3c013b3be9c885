# One image for every Inferia process (the command picks which). Multi-stage: dependencies and
# the generated Prisma client are built first; the runtime stage carries no build cache.
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY prisma ./prisma
COPY prisma.config.ts ./
# `prisma generate` does not need the native schema engine; any existing file satisfies the check.
RUN PRISMA_SCHEMA_ENGINE_BINARY=/usr/local/bin/node npx prisma generate

# The dashboard's static build (Vite is a development dependency, so it is built here, apart).
FROM node:26-bookworm-slim AS dashboard
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY dashboard ./dashboard
COPY lib/providers.ts lib/rbac.ts ./lib/
RUN cd dashboard && npx vite build --config vite.config.ts

FROM node:26-bookworm-slim
ENV NODE_ENV=production INFERIA_ENV=production INFERIA_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/lib/generated ./lib/generated
COPY . .
COPY --from=dashboard /app/dashboard/dist ./dashboard/dist
USER node
EXPOSE 8000 8001 8080 50051 3000 3001
CMD ["node", "--import", "tsx", "gateways/inference/main.ts"]
