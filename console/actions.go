package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/signin"
)

// maxComment is Jira's comment limit, so a comment always fits there.
const maxComment = 32767

// form reads a console form post for the alert in the path; ok false
// means the answer is written.
func (c *Console) form(w http.ResponseWriter, r *http.Request) (id, user string, ok bool) {
	id = r.PathValue("alertId")
	back := "/alerts/" + url.PathEscape(id)
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		c.problem(w, r, http.StatusBadRequest, "The form could not be read (at most 64 KiB).", back, nil)
		return "", "", false
	}
	if err := alert.CheckText(id); err != nil {
		c.problem(w, r, http.StatusNotFound, "No such alert.", "/", nil)
		return "", "", false
	}
	user, _ = signin.User(r.Context())
	return id, user, true
}

// done sends the browser back to the alert's page, at the part changed.
func done(w http.ResponseWriter, r *http.Request, id, what string) {
	http.Redirect(w, r, "/alerts/"+url.PathEscape(id)+"?done="+what+"#"+what, http.StatusSeeOther)
}

func (c *Console) changed(w http.ResponseWriter, r *http.Request, id string, err error) bool {
	if err == nil {
		return true
	}
	c.problem(w, r, http.StatusInternalServerError, fmt.Sprintf("No alert with alertId %q.", id), "/", err)
	return false
}

func (c *Console) setStatus(w http.ResponseWriter, r *http.Request) {
	id, user, ok := c.form(w, r)
	if !ok {
		return
	}
	st, err := alert.ParseStatus(r.PostForm.Get("status"))
	if err != nil {
		c.problem(w, r, http.StatusBadRequest, "Status: "+err.Error(), "/alerts/"+url.PathEscape(id), nil)
		return
	}
	_, err = c.cfg.Service.Update(r.Context(), id, lifecycle.Patch{Status: &st, Actor: user})
	if c.changed(w, r, id, err) {
		done(w, r, id, "triage")
	}
}

func (c *Console) assign(w http.ResponseWriter, r *http.Request) {
	id, user, ok := c.form(w, r)
	if !ok {
		return
	}
	who := strings.TrimSpace(r.PostForm.Get("assignee"))
	if len(who) > 256 || strings.ContainsFunc(who, unicode.IsControl) || alert.CheckText(who) != nil {
		c.problem(w, r, http.StatusBadRequest, "Assignee: at most 256 characters without control characters.", "/alerts/"+url.PathEscape(id), nil)
		return
	}
	_, err := c.cfg.Service.Update(r.Context(), id, lifecycle.Patch{Assignee: &who, Actor: user})
	if c.changed(w, r, id, err) {
		done(w, r, id, "triage")
	}
}

func (c *Console) comment(w http.ResponseWriter, r *http.Request) {
	id, user, ok := c.form(w, r)
	if !ok {
		return
	}
	body := strings.ReplaceAll(r.PostForm.Get("body"), "\r\n", "\n")
	back := "/alerts/" + url.PathEscape(id)
	switch {
	case strings.TrimSpace(body) == "":
		c.problem(w, r, http.StatusBadRequest, "The comment is empty.", back, nil)
		return
	case len(body) > maxComment:
		c.problem(w, r, http.StatusBadRequest, fmt.Sprintf("The comment is longer than %d bytes, Jira's limit.", maxComment), back, nil)
		return
	case alert.CheckText(body) != nil:
		c.problem(w, r, http.StatusBadRequest, "The comment holds characters that cannot be stored.", back, nil)
		return
	}
	_, err := c.cfg.Service.Comment(r.Context(), id, user, body)
	if c.changed(w, r, id, err) {
		done(w, r, id, "comments")
	}
}

func (c *Console) dispatch(w http.ResponseWriter, r *http.Request) {
	id, user, ok := c.form(w, r)
	if !ok {
		return
	}
	dest := r.PostForm.Get("destination")
	back := "/alerts/" + url.PathEscape(id)
	_, err := c.cfg.Service.Dispatch(r.Context(), id, dest, user)
	switch {
	case errors.Is(err, lifecycle.ErrUnknownDest):
		c.problem(w, r, http.StatusBadRequest, fmt.Sprintf("There is no destination %q.", dest), back, nil)
	case errors.Is(err, lifecycle.ErrDispatchForbidden):
		c.problem(w, r, http.StatusForbidden, fmt.Sprintf("Destination %q does not allow manual dispatch.", dest), back, nil)
	case c.changed(w, r, id, err):
		done(w, r, id, "deliveries")
	}
}

func (c *Console) sendTest(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	user, _ := signin.User(r.Context())
	id, err := c.cfg.Service.SendTest(r.Context(), name, user)
	switch {
	case errors.Is(err, lifecycle.ErrUnknownDest):
		c.problem(w, r, http.StatusNotFound, fmt.Sprintf("There is no destination %q.", name), "/destinations", nil)
	case err != nil:
		c.problem(w, r, http.StatusInternalServerError, "", "/destinations", err)
	default:
		v := url.Values{"test": {id}, "dest": {name}}
		http.Redirect(w, r, "/destinations?"+v.Encode()+"#dest-"+url.PathEscape(name), http.StatusSeeOther)
	}
}
