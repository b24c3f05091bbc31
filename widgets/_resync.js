// ---------------------------------------------------------------- greeting the kernel
// Prepended to the widgets' modules by teachingfiles/widgets/_static.py
// (static_module); the Python side is teachingfiles/widgets/_resync.py.
//
// anywidget gives a model 2 s from its creation to load and bind its module; past
// that, every message the kernel sends to the model is dropped, for good (the model
// waits on a promise that stays rejected). On a busy page (many widgets arriving at
// once, images decoding) that happens, and a card stayed on "Question 0 of 0".
// So each view greets the kernel: the kernel answers "welcome" with the whole state
// (any message from the kernel ends the greeting: the model hears it);
// a view that hears nothing greets again, and a third greeting tells the kernel this
// model cannot hear it: the kernel then opens the widget afresh (a new model, its
// whole state in the opening message) in the box that holds it.

/**
 * Say hello until the kernel says welcome.
 * @param {any} model The anywidget model (proxy) of the view.
 * @param {{wait?: number, tries?: number}} [options] First wait in ms (doubled each
 *   time) and how many greetings at most.
 * @returns {() => void} Stops greeting (call it when the view is removed).
 */
function greet(model, { wait = 3000, tries = 6 } = {}) {
  let seq = 0;
  let timer = 0;
  let welcomed = false;
  // any message from the kernel proves the model hears it (a viewer's slices often
  // come before the welcome, behind which a busy kernel queues it)
  const onMessage = () => {
    welcomed = true;
    clearTimeout(timer);
  };
  const hello = () => {
    if (welcomed || seq >= tries) return;
    seq += 1;
    model.send({ type: "hello", seq });
    timer = setTimeout(hello, wait * 2 ** (seq - 1));
  };
  model.on("msg:custom", onMessage);
  hello();
  return () => {
    clearTimeout(timer);
    model.off("msg:custom", onMessage);
  };
}
