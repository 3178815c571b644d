// The app's entry point; the views replace this placeholder.
import { render } from "preact";

function App() {
  return <h1>boardcast</h1>;
}

const root = document.getElementById("app");
if (root) {
  render(<App />, root);
}
