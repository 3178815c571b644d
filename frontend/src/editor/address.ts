// The editor's address: `?lesson=<id>` names the lesson open, so a reload on flaky wifi
// comes back to it, and `?lang=` is kept on every link so the language a teacher picked stays.

/** The lesson named in the address, if any. */
export function lessonIdIn(search: string): string | null {
  return new URLSearchParams(search).get("lesson") || null;
}

/** The controller's address (`base` is the app's base path), keeping `?lang=`. */
export function controllerHref(base: string, search: string): string {
  const lang = new URLSearchParams(search).get("lang");
  return lang ? `${base}?lang=${encodeURIComponent(lang)}` : base;
}

/** This page's query with `lesson` set to `id`, or removed for none. */
export function withLesson(search: string, id: string | null): string {
  const params = new URLSearchParams(search);
  if (id === null) params.delete("lesson");
  else params.set("lesson", id);
  const query = params.toString();
  return query ? `?${query}` : "";
}
