// Who is signed in: the API client, the user's profile and permissions (GET /auth/me), and
// sign-in / sign-out. Pages read it with useSession().
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Api, type RuntimeConfig } from './api';
import { Permissions } from './permissions';
import type { Me } from './types';

export interface Session {
  api: Api;
  config: RuntimeConfig;
  me: Me | null;
  perms: Permissions;
  /** Reloads the profile (after enabling 2FA, say). */
  refreshMe: () => Promise<void>;
  login: (email: string, password: string, totpCode?: string) => Promise<void>;
  logout: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside <SessionProvider>');
  return s;
}

export function SessionProvider({ config, children }: { config: RuntimeConfig; children: (state: { ready: boolean }) => ReactNode }) {
  const api = useMemo(() => new Api(config), [config]);
  const [me, setMe] = useState<Me | null>(null);
  const [ready, setReady] = useState(false);

  const refreshMe = useCallback(async () => {
    setMe(await api.get<Me>('/auth/me'));
  }, [api]);

  useEffect(() => {
    api.onSessionLost = () => setMe(null);
    // A reload keeps the session when this tab still holds a refresh token.
    if (!api.hasSession) {
      setReady(true);
      return;
    }
    refreshMe()
      .catch(() => setMe(null))
      .finally(() => setReady(true));
  }, [api, refreshMe]);

  const login = useCallback(
    async (email: string, password: string, totpCode?: string) => {
      await api.login(email, password, totpCode);
      await refreshMe();
    },
    [api, refreshMe],
  );

  const logout = useCallback(async () => {
    await api.logout();
    setMe(null);
  }, [api]);

  const value = useMemo<Session>(
    () => ({ api, config, me, perms: new Permissions(me?.permissions ?? []), refreshMe, login, logout }),
    [api, config, me, refreshMe, login, logout],
  );
  return <SessionContext.Provider value={value}>{children({ ready })}</SessionContext.Provider>;
}
