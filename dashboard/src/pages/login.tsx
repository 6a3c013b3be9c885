// Sign in: e-mail and password, then — when the account has two-factor authentication — the
// six-digit code from the authenticator app (the gateway answers 401 totp_required first).
import { useState, type FormEvent } from 'react';
import { ApiError } from '../api';
import { navigate } from '../router';
import { useSession } from '../session';
import { Button, ErrorNote, Field } from '../ui';
import { email as emailCheck, hasErrors, required, totpCode, validate } from '../validate';

export function LoginPage({ next }: { next: string | null }) {
  const { login } = useSession();
  const [values, setValues] = useState({ email: '', password: '', code: '' });
  const [step, setStep] = useState<'password' | 'totp'>('password');
  const [errors, setErrors] = useState<Partial<Record<'email' | 'password' | 'code', string>>>({});
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validate(values, step === 'password' ? { email: [required, emailCheck], password: [required] } : { code: [totpCode] });
    setErrors(found);
    if (hasErrors(found)) return;
    setBusy(true);
    setError(null);
    try {
      await login(values.email.trim(), values.password, step === 'totp' ? values.code.trim() : undefined);
      navigate(next ?? '/', { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'totp_required') {
        setStep('totp');
      } else {
        setError(err as Error);
        if (step === 'totp') setValues((v) => ({ ...v, code: '' }));
      }
    } finally {
      setBusy(false);
    }
  };
  const set = (k: keyof typeof values) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));

  return (
    <div className="login">
      <form className="card login-card" onSubmit={(e) => void submit(e)} noValidate aria-label="Sign in">
        <div className="brand brand-large">
          <span className="logo" aria-hidden="true">
            I
          </span>
          Inferia
        </div>
        <h1>{step === 'password' ? 'Sign in' : 'Two-factor authentication'}</h1>
        {step === 'password' ? (
          <>
            <Field label="E-mail" htmlFor="email" error={errors.email}>
              <input id="email" type="email" autoComplete="username" value={values.email} onChange={set('email')} />
            </Field>
            <Field label="Password" htmlFor="password" error={errors.password}>
              <input id="password" type="password" autoComplete="current-password" value={values.password} onChange={set('password')} />
            </Field>
          </>
        ) : (
          <Field label="Code from your authenticator app" htmlFor="totp" error={errors.code} hint="Six digits; a new one every 30 seconds.">
            <input id="totp" inputMode="numeric" autoComplete="one-time-code" maxLength={6} value={values.code} onChange={set('code')} autoFocus />
          </Field>
        )}
        <ErrorNote error={error} />
        <div className="form-actions">
          {step === 'totp' ? (
            <Button
              kind="ghost"
              onClick={() => {
                setStep('password');
                setError(null);
              }}
            >
              Back
            </Button>
          ) : null}
          <Button kind="primary" type="submit" busy={busy}>
            {step === 'password' ? 'Sign in' : 'Verify'}
          </Button>
        </div>
      </form>
    </div>
  );
}
