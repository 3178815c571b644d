// A teacher's login. The access token lives only in memory; after a reload, and before it
// expires, a fresh one comes from the HttpOnly session cookie (`POST /api/session/token`), so
// the OAuth refresh token never has to be kept where scripts can read it. Failures become a
// few clear kinds a view can put into words.

import type { Api, Authorization } from "./api";
import type { Clock, TimerId } from "./clock";
import { ApiError, Unreachable } from "./errors";

/** Why logging in (or staying logged in) failed, for the view to say in its language. */
export type AuthFailure =
  | "missing_credentials"
  | "invalid_credentials"
  | "throttled"
  | "directory_down"
  | "unreachable"
  | "failed";

export class AuthError extends Error {
  override readonly name = "AuthError";

  constructor(
    readonly kind: AuthFailure,
    message: string,
    /** For `throttled`: seconds until another try is allowed. */
    readonly retryAfter?: number,
    /** For `unreachable`: when (epoch ms) trying again is sensible. */
    readonly retryAt?: number,
  ) {
    super(message);
  }
}

/** `GET /api/me`. */
export interface Me {
  id: string;
  username: string;
  display_name: string;
  roles: ("teacher" | "admin")[];
}

interface TokenAnswer {
  access_token: string;
  expires_in: number;
}

export interface TeacherAuthOptions {
  api: Api;
  clock: Clock;
  /** Renew the token this long before it expires. */
  renewBeforeMs?: number;
  /** How soon to try renewing again when the servers could not be reached. */
  renewRetryMs?: number;
  /** Called when the teacher becomes logged in or out (also when the session ends). */
  onChange?: (loggedIn: boolean) => void;
}

/** Maps a failed call to the reason a teacher is shown. */
export function authFailure(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof Unreachable) {
    return new AuthError("unreachable", error.message, undefined, error.retryAt);
  }
  if (error instanceof ApiError) {
    if (error.code === "invalid_grant") {
      return new AuthError("invalid_credentials", "Wrong username or password.");
    }
    if (error.status === 429) {
      return new AuthError("throttled", error.message, error.retryAfter);
    }
    if (error.status === 503) {
      return new AuthError("directory_down", "The school's user directory is not reachable.");
    }
    return new AuthError("failed", error.message);
  }
  return new AuthError("failed", error instanceof Error ? error.message : String(error));
}

/** The teacher's credentials for the API (`Bearer`) and the controller's socket. */
export class TeacherAuth implements Authorization {
  private token: { value: string; expiresAt: number } | null = null;
  private renewTimer: TimerId;
  private restoring: Promise<boolean> | null = null;

  constructor(private readonly options: TeacherAuthOptions) {}

  get isLoggedIn(): boolean {
    return this.token !== null;
  }

  /** Logs in with the directory's username and password (`grant_type=password`). */
  async login(username: string, password: string): Promise<void> {
    const name = username.trim();
    if (name === "" || password === "") {
      throw new AuthError("missing_credentials", "Enter a username and a password.");
    }
    const form = { grant_type: "password", client_id: "web", username: name, password };
    try {
      const { data } = await this.options.api.post<TokenAnswer>(
        "/oauth/token",
        { form },
        { anonymous: true },
      );
      this.accept(data);
    } catch (error) {
      throw authFailure(error);
    }
  }

  /**
   * A fresh token from the session cookie. False when there is no session (never logged in
   * here, logged out elsewhere, or past its lifetime); throws an AuthError when unsure.
   */
  restore(): Promise<boolean> {
    this.restoring ??= this.fetchSessionToken().finally(() => (this.restoring = null));
    return this.restoring;
  }

  /** Ends the session on the server; locally the teacher is logged out whatever it answers. */
  async logout(): Promise<void> {
    try {
      await this.options.api.delete("/api/session");
    } catch {
      // Unreachable or already gone: the cookie dies with its session or its lifetime.
    } finally {
      this.forget();
    }
  }

  /** Who is logged in. */
  async me(): Promise<Me> {
    try {
      return (await this.options.api.get<Me>("/api/me")).data;
    } catch (error) {
      throw authFailure(error);
    }
  }

  /** A token valid for a while yet, e.g. for the socket's hello; renews it if needed. */
  async accessToken(): Promise<string> {
    const soon = this.options.clock.now() + 10_000;
    if (!this.token || this.token.expiresAt <= soon) {
      if (!(await this.restore())) throw new AuthError("failed", "Not logged in.");
    }
    if (!this.token) throw new AuthError("failed", "Not logged in.");
    return this.token.value;
  }

  header(): string | null {
    return this.token ? `Bearer ${this.token.value}` : null;
  }

  async refresh(): Promise<boolean> {
    try {
      return await this.restore();
    } catch {
      return false;
    }
  }

  /** Stops renewing (the view is going away). */
  close(): void {
    this.options.clock.clearTimeout(this.renewTimer);
  }

  private async fetchSessionToken(): Promise<boolean> {
    try {
      const { data } = await this.options.api.post<TokenAnswer>("/api/session/token", undefined, {
        anonymous: true,
      });
      this.accept(data);
      return true;
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        this.forget();
        return false;
      }
      throw authFailure(error);
    }
  }

  private accept(answer: TokenAnswer): void {
    const { clock, renewBeforeMs = 60_000 } = this.options;
    const wasLoggedIn = this.isLoggedIn;
    const lifetime = Math.max(0, answer.expires_in * 1000);
    this.token = { value: answer.access_token, expiresAt: clock.now() + lifetime };
    this.scheduleRenewal(Math.max(lifetime / 2, lifetime - renewBeforeMs));
    if (!wasLoggedIn) this.options.onChange?.(true);
  }

  private scheduleRenewal(inMs: number): void {
    const { clock, renewRetryMs = 30_000 } = this.options;
    clock.clearTimeout(this.renewTimer);
    this.renewTimer = clock.setTimeout(() => {
      this.restore().catch(() => {
        const left = (this.token?.expiresAt ?? 0) - clock.now();
        if (left > 0) this.scheduleRenewal(Math.min(renewRetryMs, left));
      });
    }, inMs);
  }

  private forget(): void {
    this.close();
    const wasLoggedIn = this.isLoggedIn;
    this.token = null;
    if (wasLoggedIn) this.options.onChange?.(false);
  }
}
