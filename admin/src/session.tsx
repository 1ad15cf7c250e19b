import { createContext, useContext } from 'react';
import { ROLE_RANK, type Role, type SessionUser } from './api';

export const SessionContext = createContext<{ user: SessionUser; logout: () => void } | null>(null);

export function useSession() {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}

/** Whether the signed-in user's role reaches `role`: viewers get no action buttons at all. */
export function useCan(role: Role): boolean {
  return ROLE_RANK[useSession().user.role] >= ROLE_RANK[role];
}
