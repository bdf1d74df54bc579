package staff

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/apiclients"
)

// The API clients page: admins register integrations (a mission's kiosk)
// that may submit requests through the JSON API, see each token once, and
// revoke them. Only admins: a client may be scoped to several missions.

type clientsData struct {
	Clients  []apiclients.Client
	Missions []MissionChoice
	Chosen   map[string]bool // the missions ticked in the form
	Token    string          // a new client's token, shown on this answer only
	Created  string          // its name
	Revoke   *apiclients.Client
}

func (d *Dashboard) clients(c *fiber.Ctx, m Member) error {
	notice := ""
	if c.Query("notice") == "revoked" {
		notice = "staff.clients.revoked"
	}
	return d.renderClients(c, m, fiber.StatusOK, web.NewForm(), &clientsData{}, notice)
}

func (d *Dashboard) renderClients(c *fiber.Ctx, m Member, status int, form *web.Form, data *clientsData, notice string) error {
	if m.Role != Admin {
		return fiber.ErrForbidden
	}
	ctx := c.UserContext()
	var err error
	if data.Clients, err = apiclients.List(ctx, d.DB); err != nil {
		return err
	}
	rows, err := d.DB.Query(ctx, "SELECT code, name_fa, name_en FROM missions WHERE active ORDER BY code")
	if err != nil {
		return err
	}
	if data.Missions, err = pgx.CollectRows(rows, pgx.RowToStructByPos[MissionChoice]); err != nil {
		return err
	}
	if data.Chosen == nil {
		data.Chosen = map[string]bool{}
	}
	if _, ok := form.Values["per_hour"]; !ok {
		form.Values["per_hour"] = strconv.Itoa(apiclients.DefaultPerHour)
	}
	pg := d.page(c, "staff.clients.title", data)
	pg.Form, pg.Notice = form, notice
	c.Set(fiber.HeaderCacheControl, "no-store") // the page may carry a new token
	return d.Render.Render(c, status, "staff_clients", pg)
}

// addClient registers a client and shows its token on the answer, once; it
// is never stored or shown again.
func (d *Dashboard) addClient(c *fiber.Ctx, m Member) error {
	if m.Role != Admin {
		return fiber.ErrForbidden
	}
	ctx := c.UserContext()
	form := web.NewForm()
	name := strings.TrimSpace(c.FormValue("client_name"))
	perHour := strings.TrimSpace(c.FormValue("per_hour"))
	form.Values["client_name"], form.Values["per_hour"] = name, perHour
	data := &clientsData{Chosen: map[string]bool{}}
	var missions []string
	for _, v := range c.Request().PostArgs().PeekMulti("missions") {
		missions = append(missions, string(v))
		data.Chosen[string(v)] = true
	}
	n, err := strconv.Atoi(perHour)
	if err != nil {
		n = 0 // refused below
	}
	client, token, err := apiclients.Create(ctx, d.DB, apiclients.Spec{Name: name, Missions: missions, PerHour: n, CreatedBy: &m.ID})
	switch {
	case errors.Is(err, apiclients.ErrName):
		form.Fail("client_name", "staff.clients.name_error")
	case errors.Is(err, apiclients.ErrMissions):
		form.Fail("missions", "staff.clients.missions_error")
	case errors.Is(err, apiclients.ErrPerHour):
		form.Fail("per_hour", "error.number", 1, apiclients.MaxPerHour)
	case err != nil:
		return err
	}
	if !form.OK() {
		return d.renderClients(c, m, fiber.StatusUnprocessableEntity, form, data, "")
	}
	d.record(ctx, c, m, "api_client_add", "", "ok",
		fmt.Sprintf("%s (#%d) %s %d/h", client.Name, client.ID, strings.Join(client.Missions, ","), client.PerHour))
	return d.renderClients(c, m, fiber.StatusCreated, web.NewForm(), &clientsData{Token: token, Created: client.Name}, "")
}

// revokeClient asks first, then stops the client's token at once.
func (d *Dashboard) revokeClient(c *fiber.Ctx, m Member) error {
	if m.Role != Admin {
		return fiber.ErrForbidden
	}
	ctx := c.UserContext()
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return fiber.ErrNotFound
	}
	client, err := apiclients.Get(ctx, d.DB, id)
	if err == nil && client.RevokedAt != nil {
		err = apiclients.ErrNotFound // revoked already: nothing left to revoke
	}
	if answer, ok := web.AnswerFor(err, true); ok {
		return fiber.NewError(answer.Status, answer.Key) // the error page for its status
	}
	if err != nil {
		return err
	}
	if c.FormValue("confirmed") != "yes" {
		return d.Render.Render(c, fiber.StatusOK, "staff_client_revoke", d.page(c, "staff.clients.revoke_title", &clientsData{Revoke: &client}))
	}
	if _, err := apiclients.Revoke(ctx, d.DB, id); err != nil {
		return err
	}
	d.record(ctx, c, m, "api_client_revoke", "", "ok", fmt.Sprintf("%s (#%d)", client.Name, client.ID))
	return c.Redirect("/staff/clients?notice=revoked", fiber.StatusSeeOther)
}
