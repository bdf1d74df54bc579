package portal

import (
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"golang.org/x/text/collate"
	textlang "golang.org/x/text/language"

	"github.com/openconsular/consular/internal/consular"
)

// missionRow is a mission as the missions table has it, with its details
// from missions.json.
type missionRow struct {
	Code    string
	Name    consular.Text
	Active  bool
	Country string // the ISO code of the country it sits in
	Info    consular.MissionInfo
}

// missionsData is the missions page: the open missions by country.
type missionsData struct {
	Countries []missionCountry
}

type missionCountry struct {
	Code     string
	Name     string
	Missions []missionRow
}

// missions lists the open missions, by country, each with its city and a
// link to its page; anyone may read it, signed in or not.
func (p *Portal) missions(c *fiber.Ctx) error {
	ctx, lang := c.UserContext(), language(c)
	rows, err := p.DB.Query(ctx, `SELECT code, name_fa, name_en, active, country FROM missions WHERE active`)
	if err != nil {
		return err
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (missionRow, error) {
		var m missionRow
		err := r.Scan(&m.Code, &m.Name.Fa, &m.Name.En, &m.Active, &m.Country)
		m.Info, _ = consular.Missions.Mission(m.Code)
		return m, err
	})
	if err != nil {
		return err
	}
	byCountry := map[string]*missionCountry{}
	data := &missionsData{}
	for _, m := range all {
		for _, country := range m.Info.Countries {
			g, ok := byCountry[country]
			if !ok {
				names := consular.Missions.Countries[country]
				g = &missionCountry{Code: country, Name: consular.Text{Fa: names.Fa, En: names.En}.In(lang)}
				byCountry[country] = g
			}
			g.Missions = append(g.Missions, m)
		}
	}
	// In the reader's alphabetical order: Persian letters such as پ and گ
	// sort by the alphabet, not by their place in Unicode.
	order := collate.New(textlang.English)
	if lang == "fa" {
		order = collate.New(textlang.Persian)
	}
	for _, g := range byCountry {
		slices.SortFunc(g.Missions, func(a, b missionRow) int { return order.CompareString(a.Info.City.In(lang), b.Info.City.In(lang)) })
		data.Countries = append(data.Countries, *g)
	}
	slices.SortFunc(data.Countries, func(a, b missionCountry) int { return order.CompareString(a.Name, b.Name) })
	return p.Render.Render(c, fiber.StatusOK, "missions", p.page(c, "missions.title", data))
}

// mission is one mission's page: address, phone, email, opening hours, a
// map link and the countries it serves.
func (p *Portal) mission(c *fiber.Ctx) error {
	code := strings.ToUpper(c.Params("code"))
	var m missionRow
	err := p.DB.QueryRow(c.UserContext(), `SELECT code, name_fa, name_en, active, country FROM missions WHERE code = $1`, code).
		Scan(&m.Code, &m.Name.Fa, &m.Name.En, &m.Active, &m.Country)
	if errors.Is(err, pgx.ErrNoRows) {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	var ok bool
	if m.Info, ok = consular.Missions.Mission(m.Code); !ok {
		return fiber.ErrNotFound // the start-up check keeps this from happening
	}
	return p.Render.Render(c, fiber.StatusOK, "mission", p.page(c, "mission.title", &m))
}

// narrowMissions keeps, of the open missions, those that serve the
// applicant's country of residence, unless the applicant asked for all, no
// open mission serves it, or the chosen one is elsewhere. It returns the
// country's code when the list was narrowed.
func narrowMissions(data *consular.MissionData, options []string, residence, chosen string, all bool) ([]string, string) {
	country, ok := data.CountryCode(residence)
	if all || !ok {
		return options, ""
	}
	serving := data.Serving(country)
	var kept []string
	for _, code := range options {
		if slices.Contains(serving, code) {
			kept = append(kept, code)
		}
	}
	if len(kept) == 0 || (chosen != "" && !slices.Contains(kept, chosen)) {
		return options, ""
	}
	return kept, country
}
