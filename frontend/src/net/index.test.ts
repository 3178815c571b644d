import { describe, expect, it, vi } from "vitest";
import { boardAuthorization, boardHello, controllerHello, type TeacherAuth } from "./index";

describe("credentials", () => {
  it("a board authenticates with its id and secret and never tries to refresh them", async () => {
    const auth = boardAuthorization("b1", "s3cret");
    expect(auth.header()).toBe("Board b1:s3cret");
    expect(await auth.refresh()).toBe(false);
    expect(await boardHello("b1", "s3cret").hello()).toEqual({
      type: "hello",
      role: "board",
      board_id: "b1",
      board_secret: "s3cret",
    });
  });

  it("a controller says hello with the token current at each connect", async () => {
    const tokens = ["t1", "t2"];
    const auth = {
      accessToken: vi.fn(() => Promise.resolve(tokens.shift() ?? "")),
      refresh: vi.fn(() => Promise.resolve(true)),
    };
    const source = controllerHello(auth as unknown as TeacherAuth, "p1");
    expect(await source.hello()).toMatchObject({ access_token: "t1", pairing_id: "p1" });
    await source.refresh?.();
    expect(auth.refresh).toHaveBeenCalledTimes(1);
    expect(await source.hello()).toMatchObject({ access_token: "t2" });
  });
});
