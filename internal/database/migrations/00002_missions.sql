-- Iran's embassies, consulates and interests sections abroad (from Wikidata,
-- CC0). Missions open and close: a closed one keeps its row, inactive, so
-- old requests still name it. Each works in its own time zone.
-- +goose Up
CREATE TABLE missions (
    code      text PRIMARY KEY,
    kind      text NOT NULL CHECK (kind IN ('embassy', 'consulate_general', 'consulate', 'interests_section')),
    name_fa   text NOT NULL,
    name_en   text NOT NULL,
    country   text NOT NULL, -- ISO 3166-1 alpha-2
    city_fa   text NOT NULL,
    city_en   text NOT NULL,
    time_zone text NOT NULL, -- IANA
    active    boolean NOT NULL DEFAULT true
);

INSERT INTO missions (code, kind, name_fa, name_en, country, city_fa, city_en, time_zone, active) VALUES
('AT-VIE', 'embassy', 'سفارت جمهوری اسلامی ایران در وین', 'Embassy of the Islamic Republic of Iran in Vienna', 'AT', 'وین', 'Vienna', 'Europe/Vienna', true),
('AZ-BAK', 'embassy', 'سفارت جمهوری اسلامی ایران در باکو', 'Embassy of the Islamic Republic of Iran in Baku', 'AZ', 'باکو', 'Baku', 'Asia/Baku', true),
('BE-BRU', 'embassy', 'سفارت جمهوری اسلامی ایران در بروکسل', 'Embassy of the Islamic Republic of Iran in Brussels', 'BE', 'بروکسل', 'Brussels', 'Europe/Brussels', true),
('FR-PAR', 'embassy', 'سفارت جمهوری اسلامی ایران در پاریس', 'Embassy of the Islamic Republic of Iran in Paris', 'FR', 'پاریس', 'Paris', 'Europe/Paris', true),
('DE-BER', 'embassy', 'سفارت جمهوری اسلامی ایران در برلین', 'Embassy of the Islamic Republic of Iran in Berlin', 'DE', 'برلین', 'Berlin', 'Europe/Berlin', true),
('DE-FRA', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در فرانکفورت', 'Consulate General of the Islamic Republic of Iran in Frankfurt', 'DE', 'فرانکفورت', 'Frankfurt', 'Europe/Berlin', false),
('DE-HAM', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در هامبورگ', 'Consulate General of the Islamic Republic of Iran in Hamburg', 'DE', 'هامبورگ', 'Hamburg', 'Europe/Berlin', false),
('DE-MUC', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در مونیخ', 'Consulate General of the Islamic Republic of Iran in Munich', 'DE', 'مونیخ', 'Munich', 'Europe/Berlin', false),
('IT-ROM', 'embassy', 'سفارت جمهوری اسلامی ایران در رم', 'Embassy of the Islamic Republic of Iran in Rome', 'IT', 'رم', 'Rome', 'Europe/Rome', true),
('NL-HAG', 'embassy', 'سفارت جمهوری اسلامی ایران در لاهه', 'Embassy of the Islamic Republic of Iran in The Hague', 'NL', 'لاهه', 'The Hague', 'Europe/Amsterdam', true),
('NO-OSL', 'embassy', 'سفارت جمهوری اسلامی ایران در اسلو', 'Embassy of the Islamic Republic of Iran in Oslo', 'NO', 'اسلو', 'Oslo', 'Europe/Oslo', true),
('SE-STO', 'embassy', 'سفارت جمهوری اسلامی ایران در استکهلم', 'Embassy of the Islamic Republic of Iran in Stockholm', 'SE', 'استکهلم', 'Stockholm', 'Europe/Stockholm', true),
('DK-CPH', 'embassy', 'سفارت جمهوری اسلامی ایران در کپنهاگ', 'Embassy of the Islamic Republic of Iran in Copenhagen', 'DK', 'کپنهاگ', 'Copenhagen', 'Europe/Copenhagen', true),
('FI-HEL', 'embassy', 'سفارت جمهوری اسلامی ایران در هلسینکی', 'Embassy of the Islamic Republic of Iran in Helsinki', 'FI', 'هلسینکی', 'Helsinki', 'Europe/Helsinki', true),
('CH-BRN', 'embassy', 'سفارت جمهوری اسلامی ایران در برن', 'Embassy of the Islamic Republic of Iran in Bern', 'CH', 'برن', 'Bern', 'Europe/Zurich', true),
('PL-WAW', 'embassy', 'سفارت جمهوری اسلامی ایران در ورشو', 'Embassy of the Islamic Republic of Iran in Warsaw', 'PL', 'ورشو', 'Warsaw', 'Europe/Warsaw', true),
('HU-BUD', 'embassy', 'سفارت جمهوری اسلامی ایران در بوداپست', 'Embassy of the Islamic Republic of Iran in Budapest', 'HU', 'بوداپست', 'Budapest', 'Europe/Budapest', true),
('ES-MAD', 'embassy', 'سفارت جمهوری اسلامی ایران در مادرید', 'Embassy of the Islamic Republic of Iran in Madrid', 'ES', 'مادرید', 'Madrid', 'Europe/Madrid', true),
('GR-ATH', 'embassy', 'سفارت جمهوری اسلامی ایران در آتن', 'Embassy of the Islamic Republic of Iran in Athens', 'GR', 'آتن', 'Athens', 'Europe/Athens', true),
('GB-LON', 'embassy', 'سفارت جمهوری اسلامی ایران در لندن', 'Embassy of the Islamic Republic of Iran in London', 'GB', 'لندن', 'London', 'Europe/London', true),
('RU-MOW', 'embassy', 'سفارت جمهوری اسلامی ایران در مسکو', 'Embassy of the Islamic Republic of Iran in Moscow', 'RU', 'مسکو', 'Moscow', 'Europe/Moscow', true),
('AM-EVN', 'embassy', 'سفارت جمهوری اسلامی ایران در ایروان', 'Embassy of the Islamic Republic of Iran in Yerevan', 'AM', 'ایروان', 'Yerevan', 'Asia/Yerevan', true),
('GE-TBS', 'embassy', 'سفارت جمهوری اسلامی ایران در تفلیس', 'Embassy of the Islamic Republic of Iran in Tbilisi', 'GE', 'تفلیس', 'Tbilisi', 'Asia/Tbilisi', true),
('TR-ANK', 'embassy', 'سفارت جمهوری اسلامی ایران در آنکارا', 'Embassy of the Islamic Republic of Iran in Ankara', 'TR', 'آنکارا', 'Ankara', 'Europe/Istanbul', true),
('TR-IST', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در استانبول', 'Consulate General of the Islamic Republic of Iran in Istanbul', 'TR', 'استانبول', 'Istanbul', 'Europe/Istanbul', true),
('TR-ERZ', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در ارزروم', 'Consulate General of the Islamic Republic of Iran in Erzurum', 'TR', 'ارزروم', 'Erzurum', 'Europe/Istanbul', true),
('TR-TZX', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در ترابزون', 'Consulate General of the Islamic Republic of Iran in Trabzon', 'TR', 'ترابزون', 'Trabzon', 'Europe/Istanbul', true),
('IQ-BGW', 'embassy', 'سفارت جمهوری اسلامی ایران در بغداد', 'Embassy of the Islamic Republic of Iran in Baghdad', 'IQ', 'بغداد', 'Baghdad', 'Asia/Baghdad', true),
('IQ-NJF', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در نجف', 'Consulate General of the Islamic Republic of Iran in Najaf', 'IQ', 'نجف', 'Najaf', 'Asia/Baghdad', true),
('IQ-KRB', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در کربلا', 'Consulate General of the Islamic Republic of Iran in Karbala', 'IQ', 'کربلا', 'Karbala', 'Asia/Baghdad', true),
('IQ-EBL', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در اربیل', 'Consulate General of the Islamic Republic of Iran in Erbil', 'IQ', 'اربیل', 'Erbil', 'Asia/Baghdad', true),
('IQ-BSR', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در بصره', 'Consulate General of the Islamic Republic of Iran in Basra', 'IQ', 'بصره', 'Basra', 'Asia/Baghdad', true),
('IQ-ISU', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در سلیمانیه', 'Consulate General of the Islamic Republic of Iran in Sulaymaniyah', 'IQ', 'سلیمانیه', 'Sulaymaniyah', 'Asia/Baghdad', true),
('AE-AUH', 'embassy', 'سفارت جمهوری اسلامی ایران در ابوظبی', 'Embassy of the Islamic Republic of Iran in Abu Dhabi', 'AE', 'ابوظبی', 'Abu Dhabi', 'Asia/Dubai', true),
('AE-DXB', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در دبی', 'Consulate General of the Islamic Republic of Iran in Dubai', 'AE', 'دبی', 'Dubai', 'Asia/Dubai', true),
('QA-DOH', 'embassy', 'سفارت جمهوری اسلامی ایران در دوحه', 'Embassy of the Islamic Republic of Iran in Doha', 'QA', 'دوحه', 'Doha', 'Asia/Qatar', true),
('OM-MCT', 'embassy', 'سفارت جمهوری اسلامی ایران در مسقط', 'Embassy of the Islamic Republic of Iran in Muscat', 'OM', 'مسقط', 'Muscat', 'Asia/Muscat', true),
('KW-KWI', 'embassy', 'سفارت جمهوری اسلامی ایران در کویت', 'Embassy of the Islamic Republic of Iran in Kuwait City', 'KW', 'کویت', 'Kuwait City', 'Asia/Kuwait', true),
('LB-BEY', 'embassy', 'سفارت جمهوری اسلامی ایران در بیروت', 'Embassy of the Islamic Republic of Iran in Beirut', 'LB', 'بیروت', 'Beirut', 'Asia/Beirut', true),
('AF-KBL', 'embassy', 'سفارت جمهوری اسلامی ایران در کابل', 'Embassy of the Islamic Republic of Iran in Kabul', 'AF', 'کابل', 'Kabul', 'Asia/Kabul', true),
('AF-HEA', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در هرات', 'Consulate General of the Islamic Republic of Iran in Herat', 'AF', 'هرات', 'Herat', 'Asia/Kabul', true),
('PK-ISB', 'embassy', 'سفارت جمهوری اسلامی ایران در اسلام‌آباد', 'Embassy of the Islamic Republic of Iran in Islamabad', 'PK', 'اسلام‌آباد', 'Islamabad', 'Asia/Karachi', true),
('PK-KHI', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در کراچی', 'Consulate General of the Islamic Republic of Iran in Karachi', 'PK', 'کراچی', 'Karachi', 'Asia/Karachi', true),
('IN-DEL', 'embassy', 'سفارت جمهوری اسلامی ایران در دهلی نو', 'Embassy of the Islamic Republic of Iran in New Delhi', 'IN', 'دهلی نو', 'New Delhi', 'Asia/Kolkata', true),
('IN-BOM', 'consulate_general', 'سرکنسولگری جمهوری اسلامی ایران در بمبئی', 'Consulate General of the Islamic Republic of Iran in Mumbai', 'IN', 'بمبئی', 'Mumbai', 'Asia/Kolkata', true),
('CN-BJS', 'embassy', 'سفارت جمهوری اسلامی ایران در پکن', 'Embassy of the Islamic Republic of Iran in Beijing', 'CN', 'پکن', 'Beijing', 'Asia/Shanghai', true),
('JP-TYO', 'embassy', 'سفارت جمهوری اسلامی ایران در توکیو', 'Embassy of the Islamic Republic of Iran in Tokyo', 'JP', 'توکیو', 'Tokyo', 'Asia/Tokyo', true),
('KR-SEL', 'embassy', 'سفارت جمهوری اسلامی ایران در سئول', 'Embassy of the Islamic Republic of Iran in Seoul', 'KR', 'سئول', 'Seoul', 'Asia/Seoul', true),
('MY-KUL', 'embassy', 'سفارت جمهوری اسلامی ایران در کوالالامپور', 'Embassy of the Islamic Republic of Iran in Kuala Lumpur', 'MY', 'کوالالامپور', 'Kuala Lumpur', 'Asia/Kuala_Lumpur', true),
('AU-CBR', 'embassy', 'سفارت جمهوری اسلامی ایران در کانبرا', 'Embassy of the Islamic Republic of Iran in Canberra', 'AU', 'کانبرا', 'Canberra', 'Australia/Sydney', true),
('BR-BSB', 'embassy', 'سفارت جمهوری اسلامی ایران در برازیلیا', 'Embassy of the Islamic Republic of Iran in Brasília', 'BR', 'برازیلیا', 'Brasília', 'America/Sao_Paulo', true),
('ZA-PRY', 'embassy', 'سفارت جمهوری اسلامی ایران در پرتوریا', 'Embassy of the Islamic Republic of Iran in Pretoria', 'ZA', 'پرتوریا', 'Pretoria', 'Africa/Johannesburg', true),
('US-WAS', 'interests_section', 'دفتر حفاظت منافع جمهوری اسلامی ایران در واشنگتن (سفارت پاکستان)', 'Interests Section of the Islamic Republic of Iran in Washington (Embassy of Pakistan)', 'US', 'واشنگتن', 'Washington', 'America/New_York', true);

ALTER TABLE requests ADD CONSTRAINT requests_mission FOREIGN KEY (mission_code) REFERENCES missions (code);

-- +goose Down
ALTER TABLE requests DROP CONSTRAINT requests_mission;
DROP TABLE missions;
