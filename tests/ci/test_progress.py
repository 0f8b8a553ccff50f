import io

from modelport.ci.progress import Progress


def test_steps_are_timed_and_status_lines_throttled_off_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(out, quiet_interval=3600)
    with progress.step("push", "push abc"):
        progress.status("waiting 1")
        progress.status("waiting 2")
    progress.warn("careful")
    assert out.getvalue() == "==> push abc\nwarning: careful\n"
    assert set(progress.timings) == {"push"} and progress.timings["push"] >= 0


def test_status_lines_show_when_due() -> None:
    out = io.StringIO()
    progress = Progress(out, quiet_interval=0)
    progress.status("building 5s")
    assert out.getvalue() == "building 5s\n"
