// The teacher's login as a view sees it: restored from the session cookie after a reload,
// then logged in or out. Shared by the controller and the lesson editor.

import { useEffect, useMemo, useState } from "preact/hooks";

import { TeacherAuth, type Me, type Net } from "../net";

export type TeacherState =
  { kind: "restoring" } | { kind: "logged_out" } | { kind: "logged_in"; me: Me };

export interface Teacher {
  auth: TeacherAuth;
  state: TeacherState;
  /** After a successful `auth.login`. */
  loggedIn(): Promise<void>;
  logout(): Promise<void>;
}

export function useTeacher(net: Net): Teacher {
  const [state, setState] = useState<TeacherState>({ kind: "restoring" });
  const auth = useMemo(() => {
    const auth = new TeacherAuth({
      api: net.api,
      clock: net.clock,
      onChange: (loggedIn) => {
        if (!loggedIn) setState({ kind: "logged_out" });
      },
    });
    net.api.authorization = auth;
    return auth;
  }, [net]);

  const loadMe = async () => setState({ kind: "logged_in", me: await auth.me() });

  useEffect(() => {
    let stopped = false;
    // Unsure (servers unreachable) counts as logged out for now: the login form says why
    // when it is used, and nothing spins forever.
    auth
      .restore()
      .then((restored) => (restored ? loadMe() : setState({ kind: "logged_out" })))
      .catch(() => !stopped && setState({ kind: "logged_out" }));
    return () => {
      stopped = true;
      auth.close();
    };
  }, [auth]);

  return {
    auth,
    state,
    loggedIn: loadMe,
    logout: async () => {
      await auth.logout();
      setState({ kind: "logged_out" });
    },
  };
}
