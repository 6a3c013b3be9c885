// One deployment: its status (polled while it changes), replicas with their heartbeats, recent
// events, scaling, lifecycle actions, the link to its workflow in the Temporal UI, and the engine
// output streamed live over the orchestration gateway's WebSocket.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Api } from '../api';
import { formatAge, formatDateTime, heartbeatHealth } from '../format';
import { useAction, useNow, useResource } from '../hooks';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import { Table } from '../table';
import type { DeploymentDetail, InventoryNode, LogLine } from '../types';
import { Button, Card, ConfirmButton, ErrorNote, Field, Loading, PageHeader, StatusBadge } from '../ui';
import { integer } from '../validate';
import { TRANSITIONAL, canDelete, canStart, canTerminate, useDeploymentActions } from './deployments';

export function DeploymentDetailPage({ id }: { id: string }) {
  const { api, perms } = useSession();
  const detail = useResource(() => api.get<DeploymentDetail>(`/management/deployments/${id}`), [id], {
    pollMs: (d) => (d && TRANSITIONAL.has(d.status) ? 1500 : 5000),
  });
  const actions = useDeploymentActions(api, detail.reload);
  const d = detail.data;
  const mayWrite = perms.can('deployments:write');
  const now = useNow();

  if (!d) return detail.error ? <ErrorNote error={detail.error} /> : <Loading what="the deployment" />;
  const wf = d.workflow_state as { status?: string; desired?: string; targetReplicas?: number } | null | undefined;

  return (
    <>
      <PageHeader
        title={d.inference_model}
        subtitle={
          <>
            <Link to="/deployments">Deployments</Link> / <span title={d.deployment_id}>{d.deployment_id}</span>
          </>
        }
        actions={
          <>
            <a className="btn btn-default" href={d.temporal_ui_url} target="_blank" rel="noreferrer" data-testid="temporal-link">
              Workflow in Temporal UI ↗
            </a>
            {mayWrite && canStart(d) ? (
              <Button kind="primary" busy={actions.busy} onClick={() => void actions.run(d, 'start')}>
                Start
              </Button>
            ) : null}
            {mayWrite && canTerminate(d) ? <ConfirmButton label="Terminate" confirm="Stop every replica?" busy={actions.busy} onConfirm={() => void actions.run(d, 'terminate')} /> : null}
            {mayWrite && canDelete(d) ? (
              <ConfirmButton
                label="Delete"
                confirm="Delete this deployment?"
                busy={actions.busy}
                onConfirm={() => void actions.run(d, 'delete').then((ok) => ok && navigate('/deployments'))}
              />
            ) : null}
          </>
        }
      />
      <ErrorNote error={actions.error} onDismiss={actions.reset} />
      <ErrorNote error={detail.error} />
      <div className="summary">
        <div>
          <div className="muted">Status</div>
          <StatusBadge status={d.status} />
          {d.status_reason ? <div className="muted small">{d.status_reason}</div> : null}
        </div>
        <div>
          <div className="muted">Model</div>
          {d.model_name}@{d.model_version}
        </div>
        <div>
          <div className="muted">Engine</div>
          {d.engine}
        </div>
        <div>
          <div className="muted">Replicas</div>
          <span data-testid="replicas">{d.replicas}</span>
          {wf?.targetReplicas !== undefined && wf.targetReplicas !== d.replicas ? <span className="muted"> → {wf.targetReplicas}</span> : null}
        </div>
        <div>
          <div className="muted">Workflow</div>
          <code className="small">{d.workflow_id}</code>
          {wf ? <div className="muted small">workflow says {wf.status}{wf.desired ? `, wants ${wf.desired}` : ''}</div> : null}
        </div>
        <div>
          <div className="muted">Created</div>
          {formatDateTime(d.created_at)}
        </div>
      </div>
      <Card title="Replicas" actions={mayWrite && d.status !== 'STOPPED' && d.status !== 'STOPPING' ? <ScaleForm api={api} id={d.deployment_id} replicas={d.replicas} onDone={detail.reload} /> : null}>
        <Table<InventoryNode>
          rows={d.nodes}
          rowKey={(n) => n.node_id}
          empty="No replica is placed yet."
          columns={[
            { header: '#', numeric: true, cell: (n) => n.replica_index ?? '—' },
            { header: 'State', cell: (n) => <StatusBadge status={n.state} /> },
            {
              header: 'Instance',
              cell: (n) => (
                <code className="small ellipsis" title={n.provider_instance_id}>
                  {n.provider_instance_id}
                </code>
              ),
            },
            { header: 'GPU', cell: (n) => `${n.gpu_allocated} × ${n.gpu_type ?? 'none'}` },
            { header: 'Health', numeric: true, cell: (n) => n.health_score },
            { header: 'Endpoint', cell: (n) => n.expose_url ?? '—' },
            {
              header: 'Heartbeat',
              cell: (n) => <span className={`hb hb-${heartbeatHealth(n.last_heartbeat_at, now, 20, n.state)}`}>{formatAge(n.last_heartbeat_at, now)}</span>,
            },
          ]}
        />
      </Card>
      <LiveLogs api={api} deploymentId={d.deployment_id} />
      <Card title="Recent events">
        <ol className="events">
          {d.events.length === 0 ? <li className="muted">No events yet.</li> : null}
          {d.events.map((e, i) => (
            <li key={`${e.at}-${i}`}>
              <span className="muted small">{formatDateTime(e.at)}</span> <b>{e.kind}</b> {e.message}
            </li>
          ))}
        </ol>
      </Card>
    </>
  );
}

function ScaleForm({ api, id, replicas, onDone }: { api: Api; id: string; replicas: number; onDone: () => Promise<void> }) {
  const [value, setValue] = useState(String(replicas));
  const [error, setError] = useState<string | null>(null);
  const scale = useAction(async () => {
    await api.post(`/management/deployments/${id}/scale`, { replicas: Number(value) });
    await onDone();
    return true;
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const err = integer(1, 64)(value);
    setError(err);
    if (!err) void scale.run();
  };
  return (
    <form className="inline-form" onSubmit={submit} noValidate>
      <Field label="Scale to" htmlFor="scale" error={error ?? (scale.error ? scale.error.message : null)}>
        <input id="scale" inputMode="numeric" className="narrow" value={value} onChange={(e) => setValue(e.target.value)} />
      </Field>
      <Button type="submit" busy={scale.busy}>
        Apply
      </Button>
    </form>
  );
}

const MAX_LINES = 2000;

type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

/**
 * The engine output: the orchestration gateway hands out a WebSocket URL with a 60-second
 * ticket; the socket sends the recent lines, then each new one. A dropped socket reconnects with
 * a fresh ticket, and lines already shown are not shown twice (they carry stream ids).
 */
function LiveLogs({ api, deploymentId }: { api: Api; deploymentId: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<StreamState>('connecting');
  const [error, setError] = useState<Error | null>(null);
  const [follow, setFollow] = useState(true);
  const [filter, setFilter] = useState('');
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let socket: WebSocket | null = null;
    let stopped = false;
    let retry: number | undefined;
    let attempts = 0;
    const seen = new Set<string>();
    const connect = async () => {
      try {
        const info = await api.get<{ websocket_url: string }>(`/deployment/logs/${deploymentId}/stream`, 'orchestration');
        if (stopped) return;
        socket = new WebSocket(info.websocket_url);
        socket.onopen = () => {
          attempts = 0;
          setState('live');
          setError(null);
        };
        socket.onmessage = (ev) => {
          const line = JSON.parse(String(ev.data)) as LogLine;
          if (seen.has(line.id)) return;
          seen.add(line.id);
          setLines((prev) => (prev.length >= MAX_LINES ? [...prev.slice(prev.length - MAX_LINES + 1), line] : [...prev, line]));
        };
        socket.onclose = () => {
          if (stopped) return;
          setState('reconnecting');
          schedule();
        };
      } catch (err) {
        if (stopped) return;
        setError(err as Error);
        setState('reconnecting');
        schedule();
      }
    };
    const schedule = () => {
      attempts += 1;
      retry = window.setTimeout(() => void connect(), Math.min(15_000, 1000 * 2 ** Math.min(attempts, 4)));
    };
    void connect();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      socket?.close();
      setState('closed');
    };
  }, [api, deploymentId]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);

  const shown = filter ? lines.filter((l) => l.line.toLowerCase().includes(filter.toLowerCase())) : lines;
  return (
    <Card
      title={
        <>
          Live logs{' '}
          <span className={`stream stream-${state}`} data-testid="log-state">
            {state}
          </span>
        </>
      }
      actions={
        <span className="row-actions">
          <input type="search" placeholder="Filter lines…" aria-label="Filter log lines" value={filter} onChange={(e) => setFilter(e.target.value)} />
          <label className="check">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
          </label>
          <Button kind="ghost" onClick={() => setLines([])}>
            Clear
          </Button>
        </span>
      }
    >
      <ErrorNote error={error} />
      <pre className="logs" ref={box} data-testid="logs" aria-live="off">
        {shown.length === 0 ? <span className="muted">{state === 'live' ? 'No output yet.' : 'Connecting…'}</span> : null}
        {shown.map((l) => (
          <div key={l.id}>
            <span className="muted">{l.ts ? formatDateTime(l.ts).slice(11) : ''} r{l.replica} </span>
            {l.line}
          </div>
        ))}
      </pre>
    </Card>
  );
}
