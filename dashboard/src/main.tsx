// Entry: read where the gateways are (/config.json, served by dashboard/server.ts), then start.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { RuntimeConfig } from './api';
import { App } from './app';
import './styles.css';

const root = createRoot(document.getElementById('root')!);

fetch('/config.json')
  .then(async (res) => {
    if (!res.ok) throw new Error(`/config.json answered ${res.status}`);
    return (await res.json()) as RuntimeConfig;
  })
  .then((config) =>
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  )
  .catch((err: Error) => root.render(<div className="fatal">The dashboard could not load its configuration: {err.message}</div>));
