//! The input line: a single-line editor with emacs-style operations, a one-slot kill ring and a
//! history walked with Up/Down. Pure data; the key map decides which key does what.

/// Cursor positions are char indices (never byte offsets), so multi-byte text edits safely.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Editor {
    text: Vec<char>,
    cursor: usize,
    killed: Vec<char>,
    history: Vec<String>,
    /// Where Up/Down stands in `history`; `None` is the line being typed.
    browsing: Option<usize>,
    /// The line being typed, kept while browsing history.
    draft: Vec<char>,
}

/// How many submitted lines Up/Down can reach.
const HISTORY_LIMIT: usize = 500;

impl Editor {
    pub fn with_text(text: &str) -> Self {
        let mut editor = Editor::default();
        editor.insert_str(text);
        editor
    }

    pub fn text(&self) -> String {
        self.text.iter().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn chars(&self) -> &[char] {
        &self.text
    }

    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += 1;
    }

    /// Paste: line breaks become spaces, since a message here is one line.
    pub fn insert_str(&mut self, s: &str) {
        // Terminals paste line ends as CR, CRLF or LF alike.
        let s = s.replace("\r\n", "\n");
        for c in s.chars() {
            match c {
                '\r' | '\n' | '\t' => self.insert(' '),
                c if c.is_control() => {}
                c => self.insert(c),
            }
        }
    }

    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.text.remove(self.cursor);
        }
    }

    pub fn delete(&mut self) {
        if self.cursor < self.text.len() {
            self.text.remove(self.cursor);
        }
    }

    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.text.len());
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    pub fn word_left(&mut self) {
        self.cursor = self.word_start_before(self.cursor);
    }

    pub fn word_right(&mut self) {
        let n = self.text.len();
        let mut i = self.cursor;
        while i < n && !self.text[i].is_alphanumeric() {
            i += 1;
        }
        while i < n && self.text[i].is_alphanumeric() {
            i += 1;
        }
        self.cursor = i;
    }

    /// C-k
    pub fn kill_to_end(&mut self) {
        if self.cursor < self.text.len() {
            self.killed = self.text.split_off(self.cursor);
        }
    }

    /// C-u
    pub fn kill_to_start(&mut self) {
        if self.cursor > 0 {
            self.killed = self.text.drain(..self.cursor).collect();
            self.cursor = 0;
        }
    }

    /// C-w / M-Backspace
    pub fn kill_word_back(&mut self) {
        let start = self.word_start_before(self.cursor);
        if start < self.cursor {
            self.killed = self.text.drain(start..self.cursor).collect();
            self.cursor = start;
        }
    }

    /// C-y
    pub fn yank(&mut self) {
        let killed = self.killed.clone();
        for c in killed {
            self.insert(c);
        }
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.browsing = None;
    }

    /// Take the line for sending, remembering it in the history.
    pub fn submit(&mut self) -> String {
        let line = self.text();
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            self.history.push(line.clone());
            if self.history.len() > HISTORY_LIMIT {
                self.history.remove(0);
            }
        }
        self.clear();
        self.draft.clear();
        line
    }

    pub fn history_prev(&mut self) {
        let at = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        self.browsing = Some(at);
        self.set(self.history[at].chars().collect());
    }

    pub fn history_next(&mut self) {
        match self.browsing {
            None => {}
            Some(i) if i + 1 < self.history.len() => {
                self.browsing = Some(i + 1);
                self.set(self.history[i + 1].chars().collect());
            }
            Some(_) => {
                self.browsing = None;
                let draft = std::mem::take(&mut self.draft);
                self.set(draft);
            }
        }
    }

    fn set(&mut self, text: Vec<char>) {
        self.text = text;
        self.cursor = self.text.len();
    }

    fn word_start_before(&self, from: usize) -> usize {
        let mut i = from;
        while i > 0 && !self.text[i - 1].is_alphanumeric() {
            i -= 1;
        }
        while i > 0 && self.text[i - 1].is_alphanumeric() {
            i -= 1;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emacs_editing() {
        let mut e = Editor::with_text("hello brave world");
        e.word_left();
        assert_eq!(e.cursor(), 12);
        e.kill_word_back();
        assert_eq!(e.text(), "hello world");
        e.home();
        e.word_right();
        e.kill_to_end();
        assert_eq!(e.text(), "hello");
        e.yank();
        assert_eq!(e.text(), "hello world");
        e.home();
        e.right();
        e.delete();
        e.insert('a');
        assert_eq!(e.text(), "hallo world");
        e.end();
        e.backspace();
        e.kill_to_start();
        assert_eq!(e.text(), "");
        e.yank();
        assert_eq!(e.text(), "hallo worl");
    }

    #[test]
    fn multibyte_text_is_edited_by_char() {
        let mut e = Editor::with_text("héllo 世界");
        e.backspace();
        e.left();
        e.insert('x');
        assert_eq!(e.text(), "héllo x世");
    }

    #[test]
    fn history_walks_and_restores_the_draft() {
        let mut e = Editor::default();
        e.insert_str("one");
        e.submit();
        e.insert_str("two");
        e.submit();
        e.insert_str("dra");
        e.history_prev();
        assert_eq!(e.text(), "two");
        e.history_prev();
        assert_eq!(e.text(), "one");
        e.history_prev();
        assert_eq!(e.text(), "one");
        e.history_next();
        assert_eq!(e.text(), "two");
        e.history_next();
        assert_eq!(e.text(), "dra");
    }

    #[test]
    fn paste_flattens_line_breaks_and_drops_controls() {
        let mut e = Editor::default();
        e.insert_str("a\r\nb\tc\x1b[d\re");
        assert_eq!(e.text(), "a b c[d e");
    }
}
