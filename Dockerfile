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

FROM node:26-bookworm-slim
ENV NODE_ENV=production INFERIA_ENV=production INFERIA_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/lib/generated ./lib/generated
COPY . .
USER node
EXPOSE 8000 8001 8080 50051 3000
CMD ["node", "--import", "tsx", "gateways/inference/main.ts"]
