// The signed-in user's own account: two-factor enrolment (a QR code for the authenticator app,
// the secret shown during enrolment only), turning it off, and changing the password.
import QRCode from 'qrcode';
import { useState, type FormEvent } from 'react';
import { useAction } from '../hooks';
import { useSession } from '../session';
import { Button, Card, ErrorNote, Field, PageHeader, useToast } from '../ui';
import { hasErrors, newPassword, required, totpCode, validate } from '../validate';

export function AccountPage() {
  const { me } = useSession();
  if (!me) return null;
  return (
    <>
      <PageHeader title="Account" subtitle={`${me.email} · role ${me.role}`} />
      <div className="grid-2">
        <TwoFactorCard />
        <PasswordCard />
      </div>
    </>
  );
}

function TwoFactorCard() {
  const { api, me, refreshMe } = useSession();
  const toast = useToast();
  // The secret lives in this component's state only: leaving the page forgets it.
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauth_url: string; qr: string } | null>(null);
  const [code, setCode] = useState('');
  const [codeError, setCodeError] = useState<string | null>(null);
  const setup = useAction(async () => {
    const out = await api.post<{ secret: string; otpauth_url: string }>('/auth/2fa/setup');
    const qr = await QRCode.toDataURL(out.otpauth_url, { margin: 1, width: 220 });
    setEnrolment({ ...out, qr });
  });
  const confirm = useAction(async (path: string) => {
    await api.post(path, { totp_code: code.trim() });
    setEnrolment(null);
    setCode('');
    await refreshMe();
    return true;
  });

  const submit = async (e: FormEvent, path: string, done: string) => {
    e.preventDefault();
    const err = totpCode(code);
    setCodeError(err);
    if (err) return;
    if (await confirm.run(path)) toast(done);
  };

  if (!me) return null;
  return (
    <Card title="Two-factor authentication">
      {me.totp_enabled ? (
        <form onSubmit={(e) => void submit(e, '/auth/2fa/disable', 'Two-factor authentication is off')} noValidate>
          <p>
            <span className="badge badge-ok">On</span> Signing in needs a code from your authenticator app.
          </p>
          <Field label="Current code (to turn it off)" htmlFor="totp-off" error={codeError}>
            <input id="totp-off" inputMode="numeric" maxLength={6} value={code} onChange={(e) => setCode(e.target.value)} />
          </Field>
          <ErrorNote error={confirm.error} />
          <Button type="submit" kind="danger" busy={confirm.busy}>
            Turn off 2FA
          </Button>
        </form>
      ) : enrolment ? (
        <form onSubmit={(e) => void submit(e, '/auth/2fa/enable', 'Two-factor authentication is on')} noValidate>
          <p>Scan this code with an authenticator app (or type the key), then enter the six digits it shows.</p>
          <div className="qr-row">
            <img src={enrolment.qr} alt="QR code for your authenticator app" width={220} height={220} />
            <div>
              <div className="muted">Key (shown only now)</div>
              <code className="secret" data-testid="totp-secret">
                {enrolment.secret}
              </code>
            </div>
          </div>
          <Field label="Code from the app" htmlFor="totp-on" error={codeError}>
            <input id="totp-on" inputMode="numeric" autoComplete="one-time-code" maxLength={6} value={code} onChange={(e) => setCode(e.target.value)} />
          </Field>
          <ErrorNote error={confirm.error} />
          <div className="form-actions">
            <Button kind="ghost" onClick={() => setEnrolment(null)}>
              Cancel
            </Button>
            <Button type="submit" kind="primary" busy={confirm.busy}>
              Turn on 2FA
            </Button>
          </div>
        </form>
      ) : (
        <>
          <p>
            <span className="badge badge-idle">Off</span> Add a second step to signing in: a code from an authenticator app (RFC 6238 TOTP).
          </p>
          <ErrorNote error={setup.error} />
          <Button kind="primary" busy={setup.busy} onClick={() => void setup.run()}>
            Set up 2FA
          </Button>
        </>
      )}
    </Card>
  );
}

function PasswordCard() {
  const { api, logout } = useSession();
  const toast = useToast();
  const [values, setValues] = useState({ current: '', next: '', again: '' });
  const [errors, setErrors] = useState<Partial<Record<keyof typeof values, string>>>({});
  const change = useAction(async () => {
    await api.post('/auth/password', { current_password: values.current, new_password: values.next });
    return true;
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validate(values, { current: [required], next: [newPassword], again: [(v) => (v === values.next ? null : 'Does not match.')] });
    setErrors(found);
    if (hasErrors(found)) return;
    // The gateway ends every session of the account, this one included: sign in again.
    if (await change.run()) {
      toast('Password changed: sign in with the new one');
      await logout();
    }
  };
  const set = (k: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));
  return (
    <Card title="Password">
      <form onSubmit={(e) => void submit(e)} noValidate>
        <p className="muted">Changing it signs out every session, this one too.</p>
        <Field label="Current password" htmlFor="pw-current" error={errors.current}>
          <input id="pw-current" type="password" autoComplete="current-password" value={values.current} onChange={set('current')} />
        </Field>
        <Field label="New password" htmlFor="pw-new" error={errors.next} hint="At least 12 characters.">
          <input id="pw-new" type="password" autoComplete="new-password" value={values.next} onChange={set('next')} />
        </Field>
        <Field label="New password again" htmlFor="pw-again" error={errors.again}>
          <input id="pw-again" type="password" autoComplete="new-password" value={values.again} onChange={set('again')} />
        </Field>
        <ErrorNote error={change.error} />
        <Button type="submit" kind="primary" busy={change.busy}>
          Change password
        </Button>
      </form>
    </Card>
  );
}
